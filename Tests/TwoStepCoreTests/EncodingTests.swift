import Testing
import TwoStepCore

@Suite("PercentEncoding")
struct PercentEncodingTests {
    @Test("unreserved characters stay, everything else is %XX")
    func encode() {
        #expect(PercentEncoding.encode("AZaz09-._~") == "AZaz09-._~")
        #expect(PercentEncoding.encode("a b") == "a%20b")
        #expect(PercentEncoding.encode("100%") == "100%25")
        #expect(PercentEncoding.encode("a+b=c&d") == "a%2Bb%3Dc%26d")
        #expect(PercentEncoding.encode("é") == "%C3%A9")
        #expect(PercentEncoding.encode("alice@host") == "alice%40host")
        #expect(PercentEncoding.encode("alice@host", alsoAllowed: "@") == "alice@host")
    }

    @Test("round trip of spaces, '%', '+' and UTF-8 labels", arguments: [
        "", "Phone", "My Phone", "100% sure", "a+b", "%41", "Téléphone de Zoë", "手机 📱", "tab\there", "a=b&c?d#e/f:g",
    ])
    func roundTrip(text: String) throws {
        let encoded = PercentEncoding.encode(text)
        #expect(!encoded.contains(" "))
        #expect(encoded.utf8.allSatisfy { $0 < 0x80 })
        #expect(PercentEncoding.decode(encoded) == text)
        #expect(PercentEncoding.decode(encoded, plusIsSpace: true) == text)
    }

    @Test("'+' means space only when asked")
    func plus() {
        #expect(PercentEncoding.decode("a+b") == "a+b")
        #expect(PercentEncoding.decode("a+b", plusIsSpace: true) == "a b")
        #expect(PercentEncoding.decode("a%2bb", plusIsSpace: true) == "a+b")
    }

    @Test("bad escapes and non-UTF-8 bytes are rejected", arguments: ["%", "a%", "%4", "%zz", "%4g", "%C3", "%C3%28", "%FF"])
    func rejects(text: String) {
        #expect(PercentEncoding.decode(text) == nil)
    }
}

@Suite("Hex")
struct HexTests {
    @Test("encodes lower case")
    func encode() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x01, 0xab, 0xff, 0x7f]) == "0001abff7f")
    }

    @Test("decodes either case")
    func decode() {
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("0001abff7f") == [0x00, 0x01, 0xab, 0xff, 0x7f])
        #expect(Hex.decode("0001ABFF7F") == [0x00, 0x01, 0xab, 0xff, 0x7f])
    }

    @Test("rejects odd lengths and non-hex characters", arguments: ["a", "abc", "zz", "0g", "g0", " 00", "00 ", "0x00", "éé"])
    func rejects(text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test("random bytes survive a round trip")
    func roundTrip() throws {
        for count in [0, 1, 2, 16, 32, 33] {
            let bytes = try randomBytes(count)
            let text = Hex.encode(bytes)
            #expect(text.count == 2 * count)
            #expect(Hex.decode(text) == bytes)
            #expect(Hex.decode(text.uppercased()) == bytes)
        }
    }

    @Test("every byte in every place: hex digits decode, anything else is refused")
    func everyByteInEveryPlace() throws {
        for length in [8, 10] {
            for position in 0..<length {
                for b in UInt8.min...UInt8.max {
                    var chars = Array(try randomHexDigits(length))
                    chars[position] = b
                    let decoded = Hex.decode(String(decoding: chars, as: UTF8.self))
                    let isHexDigit = (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
                    guard isHexDigit else {
                        #expect(decoded == nil, "byte \(b) at \(position)")
                        continue
                    }
                    let expected = stride(from: 0, to: length, by: 2).map { k in
                        UInt8(String(decoding: chars[k..<(k + 2)], as: UTF8.self), radix: 16)
                    }
                    #expect(decoded == expected.compactMap { $0 }, "byte \(b) at \(position)")
                }
            }
        }
    }

    private func randomHexDigits(_ count: Int) throws -> [UInt8] {
        let digits = Array("0123456789abcdefABCDEF".utf8)
        return try (0..<count).map { _ in digits[try randomInt(in: 0...(digits.count - 1))] }
    }
}
