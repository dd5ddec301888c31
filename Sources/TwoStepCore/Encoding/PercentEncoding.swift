/// Percent-encoding (RFC 3986 section 2.1) for otpauth URIs and factor-file
/// values: every byte outside an allowed set becomes `%XX`.
public enum PercentEncoding {
    /// RFC 3986 unreserved characters: always left as they are.
    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Encodes every byte that is not unreserved and not in `alsoAllowed`.
    public static func encode(_ text: String, alsoAllowed: String = "") -> String {
        let extra = alsoAllowed.utf8  // a few bytes: a linear scan beats building a Set
        // Most values (ids, numbers, hex, Base32) need no escape at all.
        if text.utf8.allSatisfy({ isUnreserved($0) || extra.contains($0) }) { return text }
        var out = [UInt8]()
        for b in text.utf8 {
            if isUnreserved(b) || extra.contains(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (and `+` as space when `plusIsSpace`). Returns
    /// nil for a bad escape or bytes that are not UTF-8.
    public static func decode(_ text: String, plusIsSpace: Bool = false) -> String? {
        var out = [UInt8]()
        var bytes = text.utf8.makeIterator()
        while let b = bytes.next() {
            if b == UInt8(ascii: "%") {
                guard let h = bytes.next().flatMap(hexValue), let l = bytes.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
