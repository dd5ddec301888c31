import CCrypto

/// SHA-256 (FIPS 180-4) from the system's Nettle library, for public data
/// (key fingerprints): nothing is cleansed. (Not named `SHA256`, which
/// would shadow swift-crypto's where a module imports both.)
public enum SHA256Hash {
    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var hash = sha256_ctx()
        nettle_sha256_init(&hash)
        bytes.withUnsafeBufferPointer { nettle_sha256_update(&hash, $0.count, $0.baseAddress) }
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_SIZE))
        nettle_sha256_digest(&hash, out.count, &out)
        return out
    }
}
