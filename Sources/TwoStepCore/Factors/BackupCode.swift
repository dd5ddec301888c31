/// A one-time backup code, stored only as a salted hash.
///
/// Codes are 10 characters from a 31-letter alphabet without look-alikes
/// (no 0/o, 1/l/i), about 49.5 bits, shown as `k7m2-x9qp-4r`. Input is
/// case-insensitive and ignores spaces and dashes. The file keeps
/// HMAC-SHA256(salt, code) with a random 16-byte salt per code; a used code's
/// line is removed.
///
/// A second form exists only for migration: the 8-digit scratch codes of a
/// `~/.google_authenticator` file (`twostep import google-authenticator`),
/// about 26.6 bits each, stored the same way (hash of the 8 digits). The
/// two forms cannot be confused: generated codes are 10 characters and the
/// alphabet has no 0 or 1. twostep never generates 8-digit codes.
///
/// File line: `backup id= salt=HEX hash=HEX created=`.
public struct BackupCode: Factor, Equatable {
    public static let keyword = "backup"
    public static let idPrefix = "backup"

    /// The characters a code is made of.
    public static let alphabet: [UInt8] = Array("23456789abcdefghjkmnpqrstuvwxyz".utf8)
    /// Characters per code.
    public static let length = 10
    /// Digits per imported google-authenticator scratch code.
    public static let importedLength = 8

    public var id: String
    /// The salt, 16 bytes held inline.
    public var salt: SaltedCodeHash.Salt
    /// HMAC-SHA256(salt, code), 32 bytes held inline.
    public var hash: SaltedCodeHash.Digest
    public var created: Int64

    public init(id: String, salt: SaltedCodeHash.Salt, hash: SaltedCodeHash.Digest, created: Int64) {
        self.id = id
        self.salt = salt
        self.hash = hash
        self.created = created
    }

    /// A code from salt and hash as arrays. Traps unless `salt` is 16
    /// bytes and `hash` 32 (a programming error, never file input: the
    /// parser checks lengths and throws).
    public init(id: String, salt: [UInt8], hash: [UInt8], created: Int64) {
        guard let s = SaltedCodeHash.Salt(exactly: salt), let h = SaltedCodeHash.Digest(exactly: hash) else {
            preconditionFailure("a backup code's salt is 16 bytes and its hash 32")
        }
        self.init(id: id, salt: s, hash: h, created: created)
    }

    /// Makes a new code: the clear text to show once, and the factor to store.
    public static func generate(id: String, created: Int64) throws(TwoStepError) -> (code: String, factor: BackupCode) {
        var chars = [UInt8]()
        for _ in 0..<length {
            chars.append(alphabet[Int(try SystemRandom.uniform(below: UInt32(alphabet.count)))])
        }
        let salt = try SaltedCodeHash.randomSalt()
        let factor = BackupCode(id: id, salt: salt, hash: digest(chars, salt: salt), created: created)
        let code = String(decoding: chars, as: UTF8.self)
        cleanse(&chars)
        return (format(code), factor)
    }

    /// Groups a code for reading: `k7m2x9qp4r` → `k7m2-x9qp-4r`.
    public static func format(_ code: String) -> String {
        let c = Array(code)
        return stride(from: 0, to: c.count, by: 4).map { String(c[$0..<min($0 + 4, c.count)]) }.joined(separator: "-")
    }

    /// Lower-cases and drops spaces and dashes; nil when what is left is not
    /// a well-formed code: 10 characters of `alphabet`, or 8 ASCII digits
    /// (an imported google-authenticator scratch code).
    public static func normalize(_ answer: String) -> [UInt8]? {
        // Too short to hold a code even before spaces and dashes are dropped
        // (a six-digit authenticator code, say): no work per backup code.
        guard answer.utf8.count >= importedLength else { return nil }
        let chars = answer.lowercased().utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") }
        if chars.count == length, chars.allSatisfy(alphabet.contains) { return Array(chars) }
        if chars.count == importedLength, chars.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return Array(chars)
        }
        return nil
    }

    /// Stores a code made elsewhere (a google-authenticator scratch code):
    /// hashed with a new random salt, like a generated one. Throws
    /// `invalidParameter` when `code` is not a well-formed code.
    public static func importing(_ code: String, id: String, created: Int64) throws(TwoStepError) -> BackupCode {
        guard var chars = normalize(code) else {
            throw .invalidParameter("a backup code is 8 digits or 10 letters and digits")
        }
        defer { cleanse(&chars) }
        let salt = try SaltedCodeHash.randomSalt()
        return BackupCode(id: id, salt: salt, hash: digest(chars, salt: salt), created: created)
    }

    static func digest(_ code: [UInt8], salt: SaltedCodeHash.Salt) -> SaltedCodeHash.Digest {
        SaltedCodeHash.digest(code, salt: salt)
    }

    /// The field keys, packed once.
    private enum Key {
        static let id: FieldKey = "id"
        static let created: FieldKey = "created"
    }

    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        id = try reader.required(Key.id)
        let stored = try SaltedCodeHash(from: &reader)
        salt = stored.salt
        hash = stored.hash
        created = try reader.time(Key.created)
        try reader.finish()
    }

    public func write(to line: inout FactorLine) {
        line.append("id", id)
        SaltedCodeHash(salt: salt, hash: hash).write(to: &line)
        line.append("created", created)
    }

    public var summary: FactorSummary {
        FactorSummary(kind: .backupCode, id: id, description: "backup code", created: created)
    }

    /// Hashes a well-formed answer and compares the hash in constant time;
    /// a match spends the code. An answer that is not shaped like a backup
    /// code is not hashed: the time then tells only its shape, which the
    /// one who typed it knows.
    public func check(_ answer: String, context: VerificationContext) -> FactorCheck {
        guard var normalized = Self.normalize(answer) else { return .noMatch }
        defer { cleanse(&normalized) }
        return SaltedCodeHash(salt: salt, hash: hash).matches(normalized) ? .accepted(replacement: nil) : .noMatch
    }
}
