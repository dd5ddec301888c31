/// Lower-case hexadecimal, for salts and hashes in the factor file.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Encodes bytes as lower-case hex.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the lower-case hex of `bytes` to `out`.
    public static func append(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBytes { append($0, to: &out) }
    }

    /// Appends the lower-case hex of `bytes` to `out`, growing `out` once.
    public static func append(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 2 * bytes.count))
        out.withUnsafeMutableBufferPointer { out in
            digits.withUnsafeBufferPointer { digits in
                var i = start
                for b in bytes {
                    out[i] = digits[Int(b >> 4)]
                    out[i + 1] = digits[Int(b & 15)]
                    i += 2
                }
            }
        }
    }

    /// Writes the lower-case hex of `bytes`.
    static func write(_ bytes: UnsafeRawBufferPointer, to out: inout StackBytes) {
        digits.withUnsafeBufferPointer { digits in
            for b in bytes {
                out.put(digits[Int(b >> 4)])
                out.put(digits[Int(b & 15)])
            }
        }
    }

    /// Decodes lower- or upper-case hex; nil for an odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode($0) }) { return result }
        return Array(text.utf8).withUnsafeBufferPointer { decode($0) }
    }

    /// Decodes lower- or upper-case hex bytes; nil for an odd length or a non-hex byte.
    public static func decode(_ chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: chars.count / 2)
        let valid = out.withUnsafeMutableBytes { decode(chars, into: $0) }
        return valid ? out : nil
    }

    /// Decodes `chars` (lower- or upper-case hex) into `out`, which must be
    /// exactly half as long; false (with `out` partly written) for a length
    /// that does not fit or a non-hex byte.
    public static func decode(_ chars: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard chars.count == 2 * out.count else { return false }
        return values.withUnsafeBufferPointer { values in
            var bad: UInt8 = 0  // 0xFF marks a non-hex byte: any one sets the high bits
            for i in 0..<out.count {
                let h = values[Int(chars[2 * i])], l = values[Int(chars[2 * i + 1])]
                bad |= h | l
                out[i] = h << 4 | (l & 15)
            }
            return bad & 0xF0 == 0
        }
    }

    /// The value of every byte as a hex digit; 0xFF for a byte that is not one.
    private static let values: [UInt8] = (0...255).map { value(UInt8($0)) ?? 0xFF }

    /// The value of `c` as a hex digit (either case); nil for any other byte.
    public static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
