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
        authenticate(algorithm, key: key, messages: message, each: message.count)
    }

    /// HMAC of `message` under the secret `key`.
    public static func authenticate(_ algorithm: OTPAlgorithm, key: SecretBytes, message: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in authenticate(algorithm, key: k, message: m) } }
    }

    /// The HMACs of the `length`-byte pieces of `messages` under the secret
    /// `key` (the TOTP codes of a window), one after the other in one array
    /// (`algorithm.digestLength` bytes each), with the key set once: Nettle
    /// starts every message from the keyed state. `messages.count` is a
    /// multiple of `length`.
    public static func authenticate(_ algorithm: OTPAlgorithm, key: SecretBytes, messages: [UInt8], each length: Int) -> [UInt8] {
        key.withUnsafeBytes { k in messages.withUnsafeBytes { m in authenticate(algorithm, key: k, messages: m, each: length) } }
    }

    /// The HMACs of the `length`-byte pieces of `messages`, one after the
    /// other; `length` 0 is one empty message. `messages` must be a whole
    /// number of pieces (a programming error otherwise, never input).
    private static func authenticate(
        _ algorithm: OTPAlgorithm, key: UnsafeRawBufferPointer, messages: UnsafeRawBufferPointer, each length: Int
    ) -> [UInt8] {
        precondition(length == 0 ? messages.count == 0 : messages.count % length == 0, "HMAC: not a whole number of messages")
        let pieces = length == 0 ? 1 : messages.count / length
        switch algorithm {
        case .sha1:
            return mac(hmac_sha1_ctx(), nettle_hmac_sha1_set_key, nettle_hmac_sha1_update, nettle_hmac_sha1_digest,
                       length: algorithm.digestLength, key: key, messages: messages, pieces: pieces, each: length)
        case .sha256:
            return mac(hmac_sha256_ctx(), nettle_hmac_sha256_set_key, nettle_hmac_sha256_update, nettle_hmac_sha256_digest,
                       length: algorithm.digestLength, key: key, messages: messages, pieces: pieces, each: length)
        case .sha512:
            return mac(hmac_sha512_ctx(), nettle_hmac_sha512_set_key, nettle_hmac_sha512_update, nettle_hmac_sha512_digest,
                       length: algorithm.digestLength, key: key, messages: messages, pieces: pieces, each: length)
        }
    }

    /// HMACs with Nettle's `set_key` (once), `update` and `digest` for one
    /// hash, in `context` (a zeroed Nettle context), which is cleansed
    /// afterwards. Message `i` is the `each` bytes at `i * each`.
    private static func mac<Context>(
        _ context: Context,
        _ setKey: (UnsafeMutablePointer<Context>?, Int, UnsafePointer<UInt8>?) -> Void,
        _ update: (UnsafeMutablePointer<Context>?, Int, UnsafePointer<UInt8>?) -> Void,
        _ digest: (UnsafeMutablePointer<Context>?, Int, UnsafeMutablePointer<UInt8>?) -> Void,
        length: Int, key: UnsafeRawBufferPointer, messages: UnsafeRawBufferPointer, pieces: Int, each: Int
    ) -> [UInt8] {
        var context = context
        var out = [UInt8](repeating: 0, count: pieces * length)
        // An empty buffer may have no address; Nettle then reads no byte of
        // this one (but gets a valid pointer, as memcpy wants).
        let none: UInt8 = 0
        withUnsafePointer(to: none) { none in
            withUnsafeMutablePointer(to: &context) { c in
                setKey(c, key.count, key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? none)
                let base = messages.baseAddress?.assumingMemoryBound(to: UInt8.self)
                out.withUnsafeMutableBufferPointer { out in
                    for i in 0..<pieces {
                        update(c, each, base.map { $0 + i * each } ?? none)
                        // Digest also puts the context back to the keyed state.
                        digest(c, length, out.baseAddress.map { $0 + i * length })
                    }
                }
                cleanse(UnsafeMutableRawBufferPointer(start: c, count: MemoryLayout<Context>.size))
            }
        }
        return out
    }
}
