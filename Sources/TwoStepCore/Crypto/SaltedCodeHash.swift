/// How one-time codes (backup codes, codes sent to a phone) are kept: only
/// HMAC-SHA256 keyed with a random 16-byte salt over the code's characters.
/// The code itself is never stored.
public struct SaltedCodeHash: Sendable, Equatable {
    /// 16 random bytes, one salt per code.
    public var salt: [UInt8]
    /// HMAC-SHA256(salt, code), 32 bytes.
    public var hash: [UInt8]

    public init(salt: [UInt8], hash: [UInt8]) {
        self.salt = salt
        self.hash = hash
    }

    /// Hashes `code` (normalised characters) under a fresh random salt.
    public init(code: [UInt8]) throws(TwoStepError) {
        salt = try SystemRandom.bytes(16)
        hash = Self.digest(code, salt: salt)
    }

    static func digest(_ code: [UInt8], salt: [UInt8]) -> [UInt8] {
        salt.withUnsafeBytes { s in code.withUnsafeBytes { c in HMAC.authenticate(.sha256, key: s, message: c) } }
    }

    /// True when `candidate` (normalised characters) is the code. The hashes
    /// are compared in constant time.
    public func matches(_ candidate: [UInt8]) -> Bool {
        ConstantTime.equal(Self.digest(candidate, salt: salt), hash)
    }

    /// Reads the `salt=` (32 hex digits) and `hash=` (64 hex digits) fields.
    public init(from reader: inout RecordReader) throws(TwoStepError) {
        guard let salt = try reader.required("salt", as: Hex.decode), salt.count == 16 else {
            throw reader.error("salt must be 32 hex digits")
        }
        guard let hash = try reader.required("hash", as: Hex.decode), hash.count == 32 else {
            throw reader.error("hash must be 64 hex digits")
        }
        self.init(salt: salt, hash: hash)
    }

    /// Writes the `salt=` and `hash=` fields.
    public func write(to record: inout Record) {
        record.append("salt", hex: salt)
        record.append("hash", hex: hash)
    }
}
