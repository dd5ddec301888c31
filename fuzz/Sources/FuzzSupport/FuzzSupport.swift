import CFuzzCrypto
import TwoStepCore

/// Stops the fuzzer with a report: libFuzzer saves the input as crash-*.
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("property violated: \(message())", file: file, line: line) }
}

/// Reads fuzz input front to back; past the end every read gives zeros.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    public var remaining: Int { bytes.count - position }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }

    public mutating func integer(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        var v: UInt64 = 0
        for _ in 0..<8 { v = v << 8 | UInt64(byte()) }
        return range.lowerBound + Int(v % span)
    }

    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// Everything left.
    public mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return position < bytes.count ? Array(bytes[position...]) : []
    }
}

/// Splits at the first NUL byte: (before, after).
public func splitAtNUL(_ bytes: [UInt8]) -> ([UInt8], [UInt8]) {
    guard let i = bytes.firstIndex(of: 0) else { return (bytes, []) }
    return (Array(bytes[..<i]), Array(bytes[(i + 1)...]))
}

/// Independent reference implementations (Nettle directly, no TwoStepCore code).
public enum Reference {
    public static func hmac(_ algorithm: String, key: [UInt8], message: [UInt8]) -> [UInt8] {
        switch algorithm {
        case "SHA256":
            var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_SIZE))
            var ctx = hmac_sha256_ctx()
            nettle_hmac_sha256_set_key(&ctx, key.count, key)
            nettle_hmac_sha256_update(&ctx, message.count, message)
            nettle_hmac_sha256_digest(&ctx, out.count, &out)
            return out
        case "SHA512":
            var out = [UInt8](repeating: 0, count: Int(SHA512_DIGEST_SIZE))
            var ctx = hmac_sha512_ctx()
            nettle_hmac_sha512_set_key(&ctx, key.count, key)
            nettle_hmac_sha512_update(&ctx, message.count, message)
            nettle_hmac_sha512_digest(&ctx, out.count, &out)
            return out
        default:
            var out = [UInt8](repeating: 0, count: Int(SHA1_DIGEST_SIZE))
            var ctx = hmac_sha1_ctx()
            nettle_hmac_sha1_set_key(&ctx, key.count, key)
            nettle_hmac_sha1_update(&ctx, message.count, message)
            nettle_hmac_sha1_digest(&ctx, out.count, &out)
            return out
        }
    }

    /// RFC 4226 HOTP, written out again here.
    public static func hotp(key: [UInt8], counter: UInt64, algorithm: String, digits: Int) -> String {
        let message = (0..<8).map { UInt8((counter >> (8 * (7 - UInt64($0)))) & 0xff) }
        let mac = hmac(algorithm, key: key, message: message)
        let o = Int(mac[mac.count - 1] & 0x0f)
        let v = (UInt32(mac[o] & 0x7f) << 24 | UInt32(mac[o + 1]) << 16 | UInt32(mac[o + 2]) << 8 | UInt32(mac[o + 3]))
        var m: UInt32 = 1
        for _ in 0..<digits { m *= 10 }
        var s = String(v % m)
        while s.count < digits { s = "0" + s }
        return s
    }

    public static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = "", out = ""
        for b in bytes { bits += String(repeating: "0", count: 8 - String(b, radix: 2).count) + String(b, radix: 2) }
        while bits.count % 5 != 0 { bits += "0" }
        var i = bits.startIndex
        while i < bits.endIndex {
            let j = bits.index(i, offsetBy: 5)
            out.append(alphabet[Int(bits[i..<j], radix: 2)!])
            i = j
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
