/// How one-time codes (backup codes, codes sent to a phone) are kept: only
/// HMAC-SHA256 keyed with a random 16-byte salt over the code's characters.
/// The code itself is never stored.
///
/// Salt and hash are held inline (`InlineBytes`): reading a file of many
/// codes allocates nothing for them.
public struct SaltedCodeHash: Sendable, Equatable {
    /// 16 random bytes, one salt per code.
    public typealias Salt = InlineBytes16
    /// HMAC-SHA256(salt, code), 32 bytes.
    public typealias Digest = InlineBytes32

    /// 16 random bytes, one salt per code.
    public var salt: Salt
    /// HMAC-SHA256(salt, code), 32 bytes.
    public var hash: Digest

    public init(salt: Salt, hash: Digest) {
        self.salt = salt
        self.hash = hash
    }

    /// Hashes `code` (normalised characters) under a fresh random salt.
    public init(code: [UInt8]) throws(TwoStepError) {
        salt = try Self.randomSalt()
        hash = Self.digest(code, salt: salt)
    }

    /// A new random salt.
    static func randomSalt() throws(TwoStepError) -> Salt {
        var bytes = try SystemRandom.bytes(Salt.byteCount)
        defer { cleanse(&bytes) }
        var salt = Salt()
        salt.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
        return salt
    }

    /// HMAC-SHA256 keyed with `salt` over `code`.
    static func digest(_ code: [UInt8], salt: Salt) -> Digest {
        var mac = salt.withUnsafeBytes { s in code.withUnsafeBytes { c in HMAC.authenticate(.sha256, key: s, message: c) } }
        defer { cleanse(&mac) }
        var digest = Digest()
        digest.withUnsafeMutableBytes { $0.copyBytes(from: mac.prefix(Digest.byteCount)) }
        return digest
    }

    /// True when `candidate` (normalised characters) is the code. The hashes
    /// are compared in constant time.
    public func matches(_ candidate: [UInt8]) -> Bool {
        let computed = Self.digest(candidate, salt: salt)
        return computed.withUnsafeBytes { a in hash.withUnsafeBytes { b in ConstantTime.equal(a, b) } }
    }

    /// The field keys, packed once.
    private enum Key {
        static let salt: FieldKey = "salt"
        static let hash: FieldKey = "hash"
    }

    /// Reads the `salt=` (32 hex digits) and `hash=` (64 hex digits) fields.
    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        guard let salt = try reader.required(Key.salt, as: Salt.init(hex:)) else {
            throw reader.error("salt must be 32 hex digits")
        }
        guard let hash = try reader.required(Key.hash, as: Digest.init(hex:)) else {
            throw reader.error("hash must be 64 hex digits")
        }
        self.init(salt: salt, hash: hash)
    }

    /// Writes the `salt=` and `hash=` fields.
    public func write(to line: inout FactorLine) {
        salt.withUnsafeBytes { line.append("salt", hex: $0) }
        hash.withUnsafeBytes { line.append("hash", hex: $0) }
    }
}
