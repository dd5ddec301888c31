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

    var evp: OpaquePointer? {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }
}

/// HMAC (RFC 2104) from the system's libcrypto.
public enum HMAC {
    /// HMAC of `message` under `key`. The key is read in place, never copied
    /// into Swift memory.
    public static func authenticate(
        _ algorithm: OTPAlgorithm, key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { o in
            CCrypto.HMAC(
                algorithm.evp, key.baseAddress ?? UnsafeRawPointer(o.baseAddress!), Int32(key.count),
                message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                o.baseAddress, &outLength)
        }
        // HMAC with a built-in digest only fails when libcrypto is out of memory.
        precondition(ok != nil, "libcrypto HMAC failed")
        out.removeSubrange(Int(outLength)...)
        return out
    }

    /// HMAC of `message` under the secret `key`.
    public static func authenticate(_ algorithm: OTPAlgorithm, key: SecretBytes, message: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in authenticate(algorithm, key: k, message: m) } }
    }
}
