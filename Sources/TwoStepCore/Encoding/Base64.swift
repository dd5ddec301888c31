/// Standard Base64 (RFC 4648 §4, `A–Z a–z 0–9 + /`), as OpenSSH writes
/// public keys and fingerprints.
///
/// Decoding is strict, as OpenSSH's own `b64_pton` is: the length is a
/// multiple of four, `=` only as the last one or two characters, no white
/// space, and the bits that padding leaves over are zero. So every byte
/// string has exactly one accepted text, and a text decodes only when it is
/// the one `encode` writes.
public enum Base64 {
    /// Why a text is not strict Base64.
    public enum DecodingError: Error, Equatable, Sendable, CustomStringConvertible {
        /// The length is not a multiple of four (padding included), or zero where bytes are needed.
        case invalidLength(Int)
        /// Unpadded Base64 of a length no byte string encodes to (one more than a multiple of four).
        case invalidUnpaddedLength(Int)
        /// A byte outside the alphabet (or `=` before the end) at `position` (0-based).
        case invalidCharacter(UInt8, position: Int)
        /// The last character carries bits that padding should have left at zero.
        case nonZeroPaddingBits

        public var description: String {
            switch self {
            case .invalidLength(let n):
                "invalid Base64 length \(n) (a multiple of 4 with = padding is needed)"
            case .invalidUnpaddedLength(let n):
                "invalid Base64 length \(n) (Base64 without = padding is never 1 more than a multiple of 4 long)"
            case .invalidCharacter(let c, let p):
                if c >= 0x21 && c <= 0x7E {
                    "invalid Base64 character '\(Character(Unicode.Scalar(c)))' at position \(p + 1)"
                } else {
                    "invalid Base64 byte 0x\(Hex.encode([c])) at position \(p + 1)"
                }
            case .nonZeroPaddingBits:
                "invalid Base64: the last character has bits set that padding leaves at zero"
            }
        }
    }

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The 6-bit value of every byte; 0xFF for a byte outside the alphabet
    /// (`=` included: the decoder handles padding itself).
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Encodes `bytes`; with `padded: false` the trailing `=` are left out
    /// (as `ssh-keygen -l` prints a SHA256 fingerprint).
    public static func encode(_ bytes: [UInt8], padded: Bool = true) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        alphabet.withUnsafeBufferPointer { a in
            var i = 0
            while i + 3 <= bytes.count {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
                out.append(a[Int(v >> 6 & 63)]); out.append(a[Int(v & 63)])
                i += 3
            }
            let left = bytes.count - i
            if left == 1 {
                let v = UInt32(bytes[i]) << 16
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
                if padded { out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "=")) }
            } else if left == 2 {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)]); out.append(a[Int(v >> 6 & 63)])
                if padded { out.append(UInt8(ascii: "=")) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strict, padded Base64 (see the type's documentation). An
    /// empty text decodes to no bytes.
    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        var text = text
        return try text.withUTF8 { decoding($0) }.get()
    }

    /// Decodes strict, padded Base64 from its bytes.
    public static func decode(_ chars: UnsafeBufferPointer<UInt8>) throws(DecodingError) -> [UInt8] {
        try decoding(chars).get()
    }

    /// Decodes strict, padded Base64 from a slice of bytes.
    public static func decode(_ chars: ArraySlice<UInt8>) throws(DecodingError) -> [UInt8] {
        try chars.withUnsafeBufferPointer { decoding($0) }.get()
    }

    /// Decodes strict Base64 written without the `=` padding (as
    /// `encode(_:padded: false)` writes it): no `=` anywhere, a length
    /// that is not 1 more than a multiple of four, and zero spare bits in
    /// the last character, so again every byte string has exactly one
    /// accepted text.
    public static func decode(unpadded chars: UnsafeBufferPointer<UInt8>) throws(DecodingError) -> [UInt8] {
        let n = chars.count
        guard n % 4 != 1 else { throw .invalidUnpaddedLength(n) }
        if let i = chars.firstIndex(of: UInt8(ascii: "=")) { throw .invalidCharacter(UInt8(ascii: "="), position: i) }
        guard n % 4 != 0 else { return try decoding(chars).get() }
        var padded = Array(chars)
        padded.append(contentsOf: repeatElement(UInt8(ascii: "="), count: 4 - n % 4))
        return try padded.withUnsafeBufferPointer { decoding($0) }.get()
    }

    private static func decoding(_ chars: UnsafeBufferPointer<UInt8>) -> Result<[UInt8], DecodingError> {
        let n = chars.count
        guard n % 4 == 0 else { return .failure(.invalidLength(n)) }
        if n == 0 { return .success([]) }
        let equals = UInt8(ascii: "=")
        let pad = chars[n - 1] != equals ? 0 : chars[n - 2] != equals ? 1 : 2
        var out = [UInt8]()
        out.reserveCapacity(n / 4 * 3)
        return values.withUnsafeBufferPointer { values in
            var i = 0
            while i < n {
                let last = i + 4 == n
                let count = last ? 4 - pad : 4  // characters that carry bits in this group
                var v: UInt32 = 0
                for j in 0..<4 {
                    if j >= count {
                        v <<= 6  // a padding `=` (the count above says there is one here)
                        continue
                    }
                    let c = chars[i + j]
                    let d = values[Int(c)]
                    guard d != 0xFF else { return .failure(.invalidCharacter(c, position: i + j)) }
                    v = v << 6 | UInt32(d)
                }
                out.append(UInt8(v >> 16 & 0xFF))
                if count >= 3 { out.append(UInt8(v >> 8 & 0xFF)) }
                if count == 4 { out.append(UInt8(v & 0xFF)) }
                if last {
                    // Bits below the last whole byte must be zero.
                    let spare: UInt32 = count == 2 ? v & 0xFFFF : count == 3 ? v & 0xFF : 0
                    guard spare == 0 else { return .failure(.nonZeroPaddingBits) }
                }
                i += 4
            }
            return .success(out)
        }
    }
}
