import CCrypto

/// The hash functions an authenticator may use (RFC 6238: SHA1, SHA256, SHA512).
public enum OTPAlgorithm: String, Sendable, CaseIterable, Equatable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// Parses `SHA1`, `sha256`, … (case-insensitive).
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }

    /// Digest length in bytes.
    public var digestLength: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }
}

/// HMAC (RFC 2104) from the system's Nettle library (libnettle).
public enum HMAC {
    /// HMAC of `message` under `key`. The key is read in place, never copied
    /// into Swift memory; Nettle's context, which holds state derived from
    /// the key, is a local variable overwritten with zeros before this returns.
    public static func authenticate(
        _ algorithm: OTPAlgorithm, key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer
    ) -> [UInt8] {
        switch algorithm {
        case .sha1:
            mac(hmac_sha1_ctx(), nettle_hmac_sha1_set_key, nettle_hmac_sha1_update, nettle_hmac_sha1_digest,
                length: algorithm.digestLength, key: key, message: message)
        case .sha256:
            mac(hmac_sha256_ctx(), nettle_hmac_sha256_set_key, nettle_hmac_sha256_update, nettle_hmac_sha256_digest,
                length: algorithm.digestLength, key: key, message: message)
        case .sha512:
            mac(hmac_sha512_ctx(), nettle_hmac_sha512_set_key, nettle_hmac_sha512_update, nettle_hmac_sha512_digest,
                length: algorithm.digestLength, key: key, message: message)
        }
    }

    /// HMAC of `message` under the secret `key`.
    public static func authenticate(_ algorithm: OTPAlgorithm, key: SecretBytes, message: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in authenticate(algorithm, key: k, message: m) } }
    }

    /// One HMAC with Nettle's `set_key`, `update` and `digest` for one hash,
    /// in `context` (a zeroed Nettle context), which is cleansed afterwards.
    private static func mac<Context>(
        _ context: Context,
        _ setKey: (UnsafeMutablePointer<Context>?, Int, UnsafePointer<UInt8>?) -> Void,
        _ update: (UnsafeMutablePointer<Context>?, Int, UnsafePointer<UInt8>?) -> Void,
        _ digest: (UnsafeMutablePointer<Context>?, Int, UnsafeMutablePointer<UInt8>?) -> Void,
        length: Int, key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var context = context
        var out = [UInt8](repeating: 0, count: length)
        // An empty buffer may have no address; Nettle then reads no byte of
        // this one (but gets a valid pointer, as memcpy wants).
        let none: UInt8 = 0
        withUnsafePointer(to: none) { none in
            withUnsafeMutablePointer(to: &context) { c in
                setKey(c, key.count, key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? none)
                update(c, message.count, message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? none)
                out.withUnsafeMutableBufferPointer { digest(c, length, $0.baseAddress) }
                cleanse(UnsafeMutableRawBufferPointer(start: c, count: MemoryLayout<Context>.size))
            }
        }
        return out
    }
}
