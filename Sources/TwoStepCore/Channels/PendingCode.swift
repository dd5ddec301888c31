/// A code sent to one of the user's phones through a channel, waiting to
/// be typed at a login: 6 random digits, stored only as a salted hash,
/// valid for `lifetime` seconds, single use, and superseded by the next
/// send (the file holds at most one).
///
/// File line: `pending id= phone= salt=HEX hash=HEX created= expires=`,
/// hashed like backup codes: HMAC-SHA256 keyed with the 16-byte salt over
/// the code's digits.
public struct PendingCode: Factor, Equatable {
    public static let keyword = "pending"
    public static let idPrefix = "pending"
    /// A pending code is state, not a way in by itself.
    public static let isMethod = false

    /// How long a sent code is valid, seconds (SPEC §3: 5 minutes).
    public static let lifetime: Int64 = 300
    /// Digits per code.
    public static let digits = 6

    public var id: String
    /// The phone the code went to.
    public var phoneID: String
    /// The salt, 16 bytes held inline.
    public var salt: SaltedCodeHash.Salt
    /// HMAC-SHA256(salt, code), 32 bytes held inline.
    public var hash: SaltedCodeHash.Digest
    public var created: Int64
    /// The code is accepted while the time is before this, Unix seconds.
    public var expires: Int64

    public init(id: String, phoneID: String, salt: SaltedCodeHash.Salt, hash: SaltedCodeHash.Digest, created: Int64, expires: Int64) {
        self.id = id
        self.phoneID = phoneID
        self.salt = salt
        self.hash = hash
        self.created = created
        self.expires = expires
    }

    /// A code from salt and hash as arrays. Traps unless `salt` is 16
    /// bytes and `hash` 32 (a programming error, never file input: the
    /// parser checks lengths and throws).
    public init(id: String, phoneID: String, salt: [UInt8], hash: [UInt8], created: Int64, expires: Int64) {
        guard let s = SaltedCodeHash.Salt(exactly: salt), let h = SaltedCodeHash.Digest(exactly: hash) else {
            preconditionFailure("a pending code's salt is 16 bytes and its hash 32")
        }
        self.init(id: id, phoneID: phoneID, salt: s, hash: h, created: created, expires: expires)
    }

    /// Makes a new code: the clear text to send once, and the factor that
    /// keeps only its hash.
    public static func generate(id: String, phoneID: String, now: Int64) throws(TwoStepError) -> (code: String, factor: PendingCode) {
        var chars = [UInt8]()
        for _ in 0..<digits {
            chars.append(UInt8(ascii: "0") + UInt8(try SystemRandom.uniform(below: 10)))
        }
        let salt = try SaltedCodeHash.randomSalt()
        let factor = PendingCode(id: id, phoneID: phoneID, salt: salt, hash: digest(chars, salt: salt),
                                 created: now, expires: UnixTime.adding(now, lifetime))
        let code = String(decoding: chars, as: UTF8.self)
        cleanse(&chars)
        return (code, factor)
    }

    /// The digits of an answer without spaces and dashes; nil when that is
    /// not `digits` digits.
    static func normalize(_ answer: String) -> [UInt8]? {
        let chars = answer.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") }
        guard chars.count == digits, chars.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Array(chars)
    }

    static func digest(_ code: [UInt8], salt: SaltedCodeHash.Salt) -> SaltedCodeHash.Digest {
        SaltedCodeHash.digest(code, salt: salt)
    }

    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        id = try reader.required("id")
        phoneID = try reader.required("phone")
        let stored = try SaltedCodeHash(from: &reader)
        salt = stored.salt
        hash = stored.hash
        created = try reader.time("created")
        expires = try reader.time("expires")
        guard expires >= created else { throw reader.error("expires before it was created") }
        try reader.finish()
    }

    public func write(to line: inout FactorLine) {
        line.append("id", id)
        line.append("phone", phoneID)
        SaltedCodeHash(salt: salt, hash: hash).write(to: &line)
        line.append("created", created)
        line.append("expires", expires)
    }

    public var summary: FactorSummary {
        FactorSummary(kind: .pendingCode, id: id, description: "code sent to \(phoneID)", created: created)
    }

    /// Hashes a six-digit answer and compares in constant time; accepted
    /// only before `expires`. A match spends the code. Any other answer is
    /// not hashed (its shape is all the time tells).
    public func check(_ answer: String, context: VerificationContext) -> FactorCheck {
        guard var normalized = Self.normalize(answer) else { return .noMatch }
        defer { cleanse(&normalized) }
        return SaltedCodeHash(salt: salt, hash: hash).matches(normalized) && context.now < expires
            ? .accepted(replacement: nil) : .noMatch
    }
}
