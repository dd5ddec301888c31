/// Base32 as RFC 4648 section 6 defines it, the encoding of TOTP secrets.
///
/// Decoding is case-insensitive and ignores spaces (people type secrets in
/// groups) and trailing `=` padding; any other character, or a length that
/// cannot encode whole bytes, is an error naming it. Encoding writes upper
/// case without padding, as authenticator apps expect.
public enum Base32 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Encodes `bytes` without padding.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the encoding of `bytes` (no padding) to `out`.
    public static func append<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 {
            out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)])
        }
        buffer = 0
    }

    /// Decodes `text`, throwing `base32InvalidCharacter` or `base32InvalidLength`.
    public static func decode(_ text: String) throws(TwoStepError) -> [UInt8] {
        var values = [UInt8]()
        values.reserveCapacity(text.utf8.count)
        // Fast path on the bytes; any byte it cannot take (an error, or a
        // character of more than one byte) goes to the Character loop below,
        // which names the character and its position as before.
        if !decodeASCII(text, into: &values) {
            cleanse(&values)
            values.removeAll(keepingCapacity: true)
            do { try decodeCharacters(text, into: &values) } catch {
                cleanse(&values)
                throw error
            }
        }
        // 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters is impossible.
        switch values.count % 8 {
        case 1, 3, 6:
            cleanse(&values)
            throw .base32InvalidLength(values.count)
        default: break
        }
        var out = [UInt8]()
        out.reserveCapacity(values.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for v in values {
            buffer = (buffer << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        cleanse(&values)
        buffer = 0
        return out
    }

    /// The 5-bit values of `text` when it is all ASCII and valid; false
    /// (with `values` partly filled) at the first byte it cannot take.
    private static func decodeASCII(_ text: String, into values: inout [UInt8]) -> Bool {
        if let done = text.utf8.withContiguousStorageIfAvailable({ decodeASCII($0, into: &values) }) { return done }
        return decodeASCII(text.utf8, into: &values)
    }

    private static func decodeASCII<C: Collection<UInt8>>(_ text: C, into values: inout [UInt8]) -> Bool {
        var sawPadding = false
        for a in text {
            if a == UInt8(ascii: " ") { continue }
            if a == UInt8(ascii: "=") { sawPadding = true; continue }
            guard !sawPadding, a < 0x80, let v = value(ascii: a) else { return false }
            values.append(v)
        }
        return true
    }

    /// The 5-bit values of `text`, Character by Character; throws
    /// `base32InvalidCharacter` naming the first bad one.
    private static func decodeCharacters(_ text: String, into values: inout [UInt8]) throws(TwoStepError) {
        var sawPadding = false
        for (position, char) in text.enumerated() {
            if char == " " { continue }
            if char == "=" { sawPadding = true; continue }
            guard !sawPadding, let v = value(of: char) else {
                throw .base32InvalidCharacter(char, position: position)
            }
            values.append(v)
        }
    }

    private static func value(of char: Character) -> UInt8? {
        guard let a = char.asciiValue else { return nil }
        return value(ascii: a)
    }

    private static func value(ascii a: UInt8) -> UInt8? {
        switch a {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return a - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return a - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): return a - UInt8(ascii: "2") + 26
        default: return nil
        }
    }
}
