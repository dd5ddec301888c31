/// An OpenSSH FIDO security key the user enrolled (SPEC §11): with the
/// policy `security_keys=touch|verify`, an SSH login whose completed
/// `publickey` method used this very key needs no code
/// (`SecurityKeyLogin`).
///
/// A method (it is a way in), but one that accepts no typed answer: what
/// it checks is the key sshd reports, never something the user types.
/// The key is public: nothing on its line is secret.
///
/// File line: `sshkey id= type= key= label= created= [last-used=]`.
/// `type` is the key type as OpenSSH names it (`sk-ssh-ed25519@openssh.com`
/// or `sk-ecdsa-sha2-nistp256@openssh.com`), `key` the whole public key
/// blob in Base64 without the `=` padding (as fingerprints are written; the
/// file would otherwise write each `=` as `%3D`), `last-used` the time of
/// the last login the key let in. The blob is read in full
/// (`SSHPublicKey(blob:)`) and its type must be `type`.
public struct SecurityKey: Factor, Equatable {
    public static let keyword = "sshkey"
    public static let idPrefix = "key"

    public var id: String
    /// The public key (its type, blob, and the FIDO application it was made for).
    public var key: SSHPublicKey
    public var label: String
    public var created: Int64
    /// When a login last counted this key as its second step, Unix
    /// seconds; nil before the first.
    public var lastUsed: Int64?

    public init(id: String, key: SSHPublicKey, label: String, created: Int64, lastUsed: Int64? = nil) {
        self.id = id
        self.key = key
        self.label = label
        self.created = created
        self.lastUsed = lastUsed
    }

    /// Equal when the lines are: the key compares by its blob only (a key
    /// read from an `authorized_keys` line keeps its comment and options,
    /// which the file does not hold).
    public static func == (a: SecurityKey, b: SecurityKey) -> Bool {
        a.id == b.id && a.key.blob == b.key.blob && a.label == b.label && a.created == b.created && a.lastUsed == b.lastUsed
    }

    /// The key type.
    public var type: SecurityKeyType { key.type }
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    public var fingerprint: String { key.fingerprint }

    /// The field keys, packed once.
    private enum Key {
        static let id: FieldKey = "id"
        static let type: FieldKey = "type"
        static let key: FieldKey = "key"
        static let label: FieldKey = "label"
        static let created: FieldKey = "created"
        static let lastUsed: FieldKey = "last-used"
    }

    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        id = try reader.required(Key.id)
        let typeName = try reader.required(Key.type)
        guard let type = SecurityKeyType(rawValue: typeName) else {
            throw reader.error("type must be \(SecurityKeyType.sshEd25519.rawValue) or \(SecurityKeyType.ecdsaP256.rawValue)"
                + " (got \(SecurityKeyError.quoted(typeName)))")
        }
        let text = Array(try reader.required(Key.key).utf8)
        guard text.count <= SSHPublicKey.maxBase64Bytes else {
            throw reader.error("key is longer than \(SSHPublicKey.maxBlobBytes) bytes")
        }
        let blob: [UInt8]
        do {
            blob = try text.withUnsafeBufferPointer { chars throws(Base64.DecodingError) in try Base64.decode(unpadded: chars) }
        } catch {
            throw reader.error("key: \(error)")
        }
        do { key = try SSHPublicKey(blob: blob) } catch { throw reader.error("key: \(error)") }
        guard key.type == type else {
            throw reader.error("type is \(type.rawValue) but the key is a \(key.type.rawValue) key")
        }
        label = try reader.required(Key.label)
        created = try reader.time(Key.created)
        lastUsed = try reader.optionalTime(Key.lastUsed)
        try reader.finish()
    }

    public func write(to line: inout FactorLine) {
        line.append("id", id)
        line.append("type", key.type.rawValue)
        line.append("key", Base64.encode(key.blob, padded: false))
        line.append("label", label)
        line.append("created", created)
        if let lastUsed { line.append("last-used", lastUsed) }
    }

    /// `security key "YubiKey" (ED25519-SK SHA256:…)`: type, fingerprint
    /// and label, never more (the key is public, but the blob is long).
    public var summary: FactorSummary {
        FactorSummary(
            kind: .securityKey, id: id,
            description: "security key \"\(label)\" (\(key.type.shortName) \(key.fingerprint))",
            created: created)
    }

    /// A security key accepts no typed answer: whatever is typed, no
    /// match, with no work that depends on the answer (the key counts only
    /// through `SecurityKeyLogin`, from what sshd reports).
    public func check(_ answer: String, context: VerificationContext) -> FactorCheck { .noMatch }
}

extension FactorFile {
    /// The enrolled security keys, in file order.
    public var securityKeys: [SecurityKey] { factors(of: SecurityKey.self) }
}
