/// An OpenSSH FIDO security key's public half (PROTOCOL.u2f): what
/// `ssh-keygen -t ed25519-sk` or `-t ecdsa-sk` writes to `KEY.pub`, what an
/// `authorized_keys` line holds, and what sshd reports in `SSH_AUTH_INFO_0`.
///
/// Only the two FIDO types are accepted (`SecurityKeyType`); any other key
/// is refused with its type named. The blob is read field by field and
/// nothing in it may be missing, longer than its length says, or left
/// over. A key of an sk type proves no hardware by itself (OpenSSH's test
/// provider makes valid ones): what counts is that the user enrolled this
/// very key, compared whole with `matches(blob:)`.
public struct SSHPublicKey: Sendable, Equatable {
    /// The key type.
    public let type: SecurityKeyType
    /// The whole public key blob (the wire encoding the Base64 text holds):
    /// what identifies the key, and what `fingerprint` hashes.
    public let blob: [UInt8]
    /// The public key itself: 32 bytes of Ed25519, or a 65-byte
    /// uncompressed P-256 point (`04 || X || Y`).
    public let publicKey: [UInt8]
    /// The FIDO application (relying party) the key was made for,
    /// `ssh:` unless `ssh-keygen -O application=ssh:…` chose another.
    public let application: String
    /// The comment after the key on its line (`""` when there is none, or
    /// when the key came from a blob).
    public let comment: String
    /// The `authorized_keys` options in front of the key (none for a blob).
    public let options: AuthorizedKeyOptions

    /// Longest `authorized_keys` line read, in bytes: a longer one is
    /// refused before any of it is parsed.
    public static let maxLineBytes = 16 * 1024
    /// Longest key blob (OpenSSH's `SSH_MAX_PUBKEY_BYTES`).
    public static let maxBlobBytes = 16 * 1024
    /// Longest application string (FIDO relying party ids are DNS names, at most 253 bytes).
    public static let maxApplicationBytes = 256

    /// Parses a key blob (the bytes the Base64 text of a key line decodes to).
    public init(blob: [UInt8]) throws(SecurityKeyError) {
        try self.init(blob: blob, comment: "", options: AuthorizedKeyOptions(), named: nil)
    }

    /// Parses the `TYPE BASE64` pair of a key line or of an `SSH_AUTH_INFO_0`
    /// line: `type` must be an sk type and name the type inside the blob.
    public init(type: String, base64: String) throws(SecurityKeyError) {
        guard let named = SecurityKeyType(bytes: type.utf8) else { throw .notASecurityKey(type: type) }
        let length = base64.utf8.count
        guard length <= Self.maxBase64Bytes else { throw .blobTooLong(bytes: length / 4 * 3, limit: Self.maxBlobBytes) }
        let blob = try Self.decodeBlob(Array(base64.utf8)[...])
        try self.init(blob: blob, comment: "", options: AuthorizedKeyOptions(), named: named)
    }

    /// Parses one `authorized_keys` line, or one `KEY.pub` file's content:
    /// `[options] TYPE BASE64 [comment]`, fields separated by spaces or
    /// tabs; leading and trailing white space (a final newline, a CR) is
    /// ignored. An empty line or a `#` comment is `.noKey`.
    public init(authorizedKeysLine line: String) throws(SecurityKeyError) {
        // First the length, before anything copies or scans the text.
        let length = line.utf8.count
        guard length <= Self.maxLineBytes else { throw .lineTooLong(bytes: length, limit: Self.maxLineBytes) }
        let bytes = Array(line.utf8)
        var start = 0, end = bytes.count
        while start < end, AuthorizedKeyOptions.isSpace(bytes[start]) { start += 1 }
        while end > start, AuthorizedKeyOptions.isSpace(bytes[end - 1]) || bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D {
            end -= 1  // a final newline, CR, spaces
        }
        if let bad = bytes[start..<end].firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw .controlCharacter(offset: bad)
        }
        let text = Array(bytes[start..<end])
        guard let first = text.first, first != UInt8(ascii: "#") else { throw .noKey }

        var i = 0
        var options = AuthorizedKeyOptions()
        let firstWord = Self.word(text, from: 0)
        if SecurityKeyType(bytes: text[firstWord]) == nil {
            if Self.namesOtherKeyType(text, firstWord) {
                throw .notASecurityKey(type: String(decoding: text[firstWord], as: UTF8.self))
            }
            let parsed = try AuthorizedKeyOptions.parse(text, from: 0)
            options = parsed.0
            i = Self.skipSpace(text, from: parsed.end)
            guard i < text.count else { throw .missingField("the key type after the options") }
        }
        let typeWord = Self.word(text, from: i)
        guard let type = SecurityKeyType(bytes: text[typeWord]) else {
            throw .notASecurityKey(type: String(decoding: text[typeWord], as: UTF8.self))
        }
        i = Self.skipSpace(text, from: typeWord.upperBound)
        guard i < text.count else { throw .missingField("the key's Base64 text after its type") }
        let keyWord = Self.word(text, from: i)
        let blob = try Self.decodeBlob(text[keyWord])
        i = Self.skipSpace(text, from: keyWord.upperBound)
        let comment = String(decoding: text[i...], as: UTF8.self)
        try self.init(blob: blob, comment: comment, options: options, named: type)
    }

    /// Reads `blob`; `named` is the type the text in front of it named, which
    /// the type inside must equal.
    private init(
        blob: [UInt8], comment: String, options: AuthorizedKeyOptions, named: SecurityKeyType?
    ) throws(SecurityKeyError) {
        guard blob.count <= Self.maxBlobBytes else { throw .blobTooLong(bytes: blob.count, limit: Self.maxBlobBytes) }
        var reader = SSHWireReader(blob)
        let typeName = try reader.string("type")
        if let named, !named.rawValue.utf8.elementsEqual(typeName) {
            throw .typeMismatch(outer: named.rawValue, inner: String(decoding: typeName, as: UTF8.self))
        }
        guard let type = SecurityKeyType(bytes: typeName) else {
            throw .notASecurityKey(type: String(decoding: typeName, as: UTF8.self))
        }
        switch type {
        case .sshEd25519:
            let key = try reader.string("Ed25519 public key")
            guard key.count == 32 else {
                throw .invalidField(field: "Ed25519 public key", reason: "is \(key.count) bytes long, not 32")
            }
            publicKey = Array(key)
        case .ecdsaP256:
            let curve = try reader.string("curve name")
            guard curve.elementsEqual("nistp256".utf8) else {
                let name = SecurityKeyError.quoted(String(decoding: curve, as: UTF8.self))
                throw .invalidField(field: "curve name", reason: "is \(name), not 'nistp256'")
            }
            let point = try reader.string("P-256 point")
            guard point.count == 65, point.first == 0x04 else {
                throw .invalidField(field: "P-256 point", reason: "is not an uncompressed point (65 bytes starting with 04)")
            }
            publicKey = Array(point)
        }
        let app = try reader.string("application")
        try reader.end()
        guard app.count <= Self.maxApplicationBytes else {
            throw .invalidField(
                field: "application", reason: "is \(app.count) bytes long; at most \(Self.maxApplicationBytes) are allowed")
        }
        guard app.starts(with: "ssh:".utf8) else {
            throw .invalidField(field: "application", reason: "does not begin with 'ssh:' (as OpenSSH requires)")
        }
        guard app.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw .invalidField(field: "application", reason: "holds a byte that is not printable ASCII")
        }
        self.type = type
        self.blob = blob
        self.application = String(decoding: app, as: UTF8.self)
        self.comment = comment
        self.options = options
    }

    /// `SHA256:` and the unpadded Base64 of the blob's SHA-256, exactly as
    /// `ssh-keygen -l` and sshd's log print it.
    public var fingerprint: String { Self.fingerprint(blob: blob) }

    /// The `SHA256:…` fingerprint of any key blob (of any key type).
    public static func fingerprint(blob: [UInt8]) -> String {
        "SHA256:" + Base64.encode(SHA256Hash.digest(blob), padded: false)
    }

    /// The blob in Base64, as on a key line.
    public var base64: String { Base64.encode(blob) }

    /// `TYPE BASE64`, the key as sshd writes it into `SSH_AUTH_INFO_0`
    /// (no options, no comment).
    public var openSSHText: String { type.rawValue + " " + base64 }

    /// True when `other` is this key's blob. Constant time (for blobs of
    /// this blob's length): how long it takes does not tell where an
    /// enrolled key and a presented one differ.
    public func matches(blob other: [UInt8]) -> Bool {
        ConstantTime.equal(blob, other)
    }

    /// Longest Base64 text of a blob: that of `maxBlobBytes` bytes.
    static let maxBase64Bytes = (maxBlobBytes + 2) / 3 * 4

    /// The blob a Base64 word decodes to, capped before decoding.
    static func decodeBlob(_ word: ArraySlice<UInt8>) throws(SecurityKeyError) -> [UInt8] {
        guard word.count <= maxBase64Bytes else { throw .blobTooLong(bytes: word.count / 4 * 3, limit: maxBlobBytes) }
        do { return try Base64.decode(word) } catch { throw .invalidBase64(error) }
    }

    /// True when a line's first word (no sk type) is a key type rather than
    /// options: one OpenSSH knows, or a lone word that names no option and
    /// is not followed by an sk type (`ssh-ed448 AAAA…`, but not
    /// `verify-requird sk-ssh-ed25519@openssh.com AAAA…`, a misspelt option).
    private static func namesOtherKeyType(_ text: [UInt8], _ first: Range<Int>) -> Bool {
        let word = text[first]
        if SecurityKeyType.otherOpenSSHTypes.contains(String(decoding: word, as: UTF8.self)) { return true }
        let lone = !word.contains { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") }
        let next = Self.word(text, from: skipSpace(text, from: first.upperBound))
        return lone && !AuthorizedKeyOptions.isKnown(word) && SecurityKeyType(bytes: text[next]) == nil
    }

    /// The range of the word (up to a space, a tab or the end) at `start`.
    static func word(_ text: [UInt8], from start: Int) -> Range<Int> {
        var end = start
        while end < text.count, !AuthorizedKeyOptions.isSpace(text[end]) { end += 1 }
        return start..<end
    }

    /// The first index at or after `start` that is not a space or a tab.
    static func skipSpace(_ text: [UInt8], from start: Int) -> Int {
        var i = start
        while i < text.count, AuthorizedKeyOptions.isSpace(text[i]) { i += 1 }
        return i
    }
}
