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

    /// A set of bytes left unescaped: the unreserved ones and the bytes of
    /// `alsoAllowed`, as a 256-bit mask (one test per byte, no allocation).
    public struct AllowedBytes: Sendable, Equatable {
        private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        /// The unreserved bytes plus every UTF-8 byte of `alsoAllowed`.
        public init(alsoAllowed: String = "") {
            for b in UInt8.min...UInt8.max where PercentEncoding.isUnreserved(b) { insert(b) }
            for b in alsoAllowed.utf8 { insert(b) }
        }

        private mutating func insert(_ b: UInt8) {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }

        /// True when `b` is left as it is.
        @inline(__always)
        public func contains(_ b: UInt8) -> Bool {
            let word: UInt64
            switch b >> 6 {
            case 0: word = words.0
            case 1: word = words.1
            case 2: word = words.2
            default: word = words.3
            }
            return word >> UInt64(b & 63) & 1 == 1
        }

        public static func == (a: AllowedBytes, b: AllowedBytes) -> Bool {
            a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
        }
    }

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Encodes every byte that is not unreserved and not in `alsoAllowed`.
    public static func encode(_ text: String, alsoAllowed: String = "") -> String {
        let allowed = AllowedBytes(alsoAllowed: alsoAllowed)
        // Most values (ids, numbers, hex, Base32) need no escape at all.
        if text.utf8.allSatisfy(allowed.contains) { return text }
        var out = [UInt8]()
        append(text, allowed: allowed, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` to `out`, encoding every byte not in `allowed`.
    public static func append(_ text: String, allowed: AllowedBytes, to out: inout [UInt8]) {
        if let done: Void = text.utf8.withContiguousStorageIfAvailable({ append($0, allowed: allowed, to: &out) }) {
            return done
        }
        Array(text.utf8).withUnsafeBufferPointer { append($0, allowed: allowed, to: &out) }
    }

    /// Appends `bytes` to `out`, encoding every byte not in `allowed`.
    public static func append(_ bytes: UnsafeBufferPointer<UInt8>, allowed: AllowedBytes, to out: inout [UInt8]) {
        // Most values need no escape: copy those in one go.
        var clean = 0
        while clean < bytes.count && allowed.contains(bytes[clean]) { clean += 1 }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[..<clean]))
        for b in bytes[clean...] {
            if allowed.contains(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
    }

    /// Decodes `%XX` escapes (and `+` as space when `plusIsSpace`). Returns
    /// nil for a bad escape or bytes that are not UTF-8.
    public static func decode(_ text: String, plusIsSpace: Bool = false) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        var bytes = text.utf8.makeIterator()
        while let b = bytes.next() {
            if b == UInt8(ascii: "%") {
                guard let h = bytes.next().flatMap(Hex.value), let l = bytes.next().flatMap(Hex.value) else { return nil }
                out.append(h << 4 | l)
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Decodes the `%XX` escapes of `bytes` (no `+` rule) into `out`; false
    /// for a bad escape. The result is not checked to be UTF-8: see
    /// `isValidUTF8(_:)`.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = Hex.value(bytes[i + 1]), let l = Hex.value(bytes[i + 2]) else { return false }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return true
    }

    /// True when `bytes` are well-formed UTF-8 (ASCII needs no further look).
    public static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
    }
}
