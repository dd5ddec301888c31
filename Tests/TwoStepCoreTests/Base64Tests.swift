import Testing
import TwoStepCore

@Suite struct Base64Tests {
    // RFC 4648 §10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ]

    @Test func rfc4648Vectors() throws {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(try Base64.decode(encoded) == Array(plain.utf8))
            #expect(Base64.encode(Array(plain.utf8), padded: false) == encoded.filter { $0 != "=" })
        }
    }

    @Test func allByteValuesRoundTrip() throws {
        for length in 0..<70 {
            let bytes = try randomBytes(length)
            #expect(try Base64.decode(Base64.encode(bytes)) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(try Base64.decode(Base64.encode(all)) == all)
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test func strictDecoding() {
        func error(_ text: String) -> Base64.DecodingError? {
            do { _ = try Base64.decode(text); return nil } catch { return error }
        }
        #expect(error("Zg") == .invalidLength(2))  // no padding: OpenSSH refuses it too
        #expect(error("Zm9vY") == .invalidLength(5))
        #expect(error("Zg=!") == .invalidCharacter(UInt8(ascii: "="), position: 2))
        #expect(error("Zm9v Zg==") == .invalidLength(9))
        #expect(error("Zm 9") == .invalidCharacter(UInt8(ascii: " "), position: 2))
        #expect(error("Z===") == .invalidCharacter(UInt8(ascii: "="), position: 1))
        #expect(error("====") == .invalidCharacter(UInt8(ascii: "="), position: 0))
        #expect(error("Zg==Zg==") == .invalidCharacter(UInt8(ascii: "="), position: 2))
        #expect(error("Zh==") == .nonZeroPaddingBits)  // "Zg==" is the one text of "f"
        #expect(error("Zm9=") == .nonZeroPaddingBits)
        #expect(error("Zm-v") == .invalidCharacter(UInt8(ascii: "-"), position: 2))  // base64url is not accepted
        #expect(error("Zm\u{0}v") == .invalidCharacter(0, position: 2))
        #expect(error("Zm\u{0}v")?.description == "invalid Base64 byte 0x00 at position 3")
    }

    /// The factor file's form of a key blob: no padding, and still one text per byte string.
    @Test func unpaddedDecoding() throws {
        func decode(_ text: String) throws(Base64.DecodingError) -> [UInt8] {
            try Array(text.utf8).withUnsafeBufferPointer { chars throws(Base64.DecodingError) in try Base64.decode(unpadded: chars) }
        }
        for (plain, encoded) in Self.vectors {
            #expect(try decode(encoded.filter { $0 != "=" }) == Array(plain.utf8))
        }
        for length in 0..<70 {
            let bytes = try randomBytes(length)
            #expect(try decode(Base64.encode(bytes, padded: false)) == bytes)
        }
        func error(_ text: String) -> Base64.DecodingError? {
            do throws(Base64.DecodingError) { _ = try decode(text); return nil } catch { return error }
        }
        #expect(error("Zg==") == .invalidCharacter(UInt8(ascii: "="), position: 2))  // the padded form is refused
        #expect(error("Zm8=") == .invalidCharacter(UInt8(ascii: "="), position: 3))
        #expect(error("Zm9vY") == .invalidUnpaddedLength(5))
        #expect(error("Z") == .invalidUnpaddedLength(1))
        #expect(error("Zh") == .nonZeroPaddingBits)  // "Zg" is the one text of "f"
        #expect(error("Zm9") == .nonZeroPaddingBits)
        #expect(error("Zm-v") == .invalidCharacter(UInt8(ascii: "-"), position: 2))
    }
}
