import CFuzzCrypto

extension Reference {
    /// SHA-256 straight from Nettle.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var ctx = sha256_ctx()
        nettle_sha256_init(&ctx)
        nettle_sha256_update(&ctx, bytes.count, bytes)
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_SIZE))
        nettle_sha256_digest(&ctx, out.count, &out)
        return out
    }

    /// Padded standard Base64 straight from Nettle.
    public static func base64(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: (bytes.count + 2) / 3 * 4)
        if !bytes.isEmpty { nettle_base64_encode_raw(&out, bytes.count, bytes) }
        return String(decoding: out.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `ssh-keygen -l`'s fingerprint of a key blob, computed without TwoStepCore.
    public static func sshFingerprint(_ blob: [UInt8]) -> String {
        "SHA256:" + base64(sha256(blob)).filter { $0 != "=" }
    }
}
