import Testing
import TwoStepCore

@Suite("Base32 (RFC 4648 section 6)")
struct Base32Tests {
    /// RFC 4648 section 10: input, padded encoding.
    static let vectors: [(String, String)] = [
        ("", ""),
        ("f", "MY======"),
        ("fo", "MZXQ===="),
        ("foo", "MZXW6==="),
        ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI======"),
    ]

    @Test("RFC 4648 vectors encode without padding")
    func encodeVectors() {
        for (plain, padded) in Self.vectors {
            let unpadded = String(padded.filter { $0 != "=" })
            #expect(Base32.encode(Array(plain.utf8)) == unpadded, "\(plain)")
        }
    }

    @Test("RFC 4648 vectors decode with and without padding")
    func decodeVectors() throws {
        for (plain, padded) in Self.vectors {
            let unpadded = String(padded.filter { $0 != "=" })
            #expect(try Base32.decode(padded) == Array(plain.utf8), "\(padded)")
            #expect(try Base32.decode(unpadded) == Array(plain.utf8), "\(unpadded)")
        }
    }

    @Test("decoding ignores case")
    func caseInsensitive() throws {
        #expect(try Base32.decode("mzxw6ytboi") == Array("foobar".utf8))
        #expect(try Base32.decode("MzXw6YtBoI") == Array("foobar".utf8))
        #expect(try Base32.decode(rfcKey20Base32.lowercased()) == rfcKey20)
    }

    @Test("decoding ignores spaces")
    func spacesIgnored() throws {
        #expect(try Base32.decode("MZXW 6YTB OI") == Array("foobar".utf8))
        #expect(try Base32.decode(" gezd gnbv gy3t qojq  gezd gnbv gy3t qojq ") == rfcKey20)
    }

    @Test("an invalid character is named with its position")
    func invalidCharacter() {
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MZXW6Y!B") } == .base32InvalidCharacter("!", position: 6))
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MZXW0YTB") } == .base32InvalidCharacter("0", position: 4))
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MZ XW1") } == .base32InvalidCharacter("1", position: 5))
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MZ-XW6") } == .base32InvalidCharacter("-", position: 2))
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MZXé") } == .base32InvalidCharacter("é", position: 3))
        // Nothing but padding may follow padding.
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("MY=A") } == .base32InvalidCharacter("A", position: 3))
        // The message counts from 1.
        #expect(TwoStepError.base32InvalidCharacter("!", position: 6).description.contains("position 7"))
    }

    @Test("lengths of 1, 3 or 6 mod 8 are rejected", arguments: [1, 3, 6, 9, 11, 14])
    func invalidLength(length: Int) {
        let text = String(repeating: "A", count: length)
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode(text) } == .base32InvalidLength(length))
    }

    @Test("lengths of 0, 2, 4, 5, 7 mod 8 are accepted", arguments: [0, 2, 4, 5, 7, 8, 10, 16, 32])
    func validLength(length: Int) throws {
        let bytes = try Base32.decode(String(repeating: "A", count: length))
        #expect(bytes.count == length * 5 / 8)
    }

    @Test("spaces do not count towards the length")
    func lengthIgnoresSpaces() {
        #expect(thrownError { () throws(TwoStepError) in try Base32.decode("M ZX") } == .base32InvalidLength(3))
    }

    @Test("random bytes survive a round trip, in any case and grouping")
    func roundTrip() throws {
        for count in 0...70 {
            let bytes = try randomBytes(count)
            let text = Base32.encode(bytes)
            #expect(text.count == (count * 8 + 4) / 5)
            #expect(text.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
            #expect(try Base32.decode(text) == bytes)
            #expect(try Base32.decode(text.lowercased()) == bytes)
            let grouped = stride(from: 0, to: text.count, by: 4).map { i -> String in
                let start = text.index(text.startIndex, offsetBy: i)
                let end = text.index(start, offsetBy: min(4, text.count - i))
                return String(text[start..<end])
            }.joined(separator: " ")
            #expect(try Base32.decode(grouped) == bytes)
        }
    }
}
