/// Why an OpenSSH public key, an `authorized_keys` line or an
/// `SSH_AUTH_INFO_0` value was refused. Text taken from the input (a key
/// type, an option name) is shown escaped (`PrintableText.escaped`) and cut
/// short, so an error message can go to a terminal or to syslog as it is.
public enum SecurityKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The line is longer than `limit` bytes (checked before anything else).
    case lineTooLong(bytes: Int, limit: Int)
    /// An `authorized_keys` file longer than `limit` bytes.
    case fileTooLong(bytes: Int, limit: Int)
    /// The line is empty or a `#` comment: no key on it.
    case noKey
    /// A control character (other than a tab) at byte `offset` (0-based).
    case controlCharacter(offset: Int)
    /// A key type other than the two FIDO types (`sk-ssh-ed25519@openssh.com`,
    /// `sk-ecdsa-sha2-nistp256@openssh.com`).
    case notASecurityKey(type: String)
    /// Options, or a key type, with nothing after them where the next part belongs.
    case missingField(String)
    /// An `authorized_keys` option sshd does not know.
    case unknownOption(String)
    /// An option written wrongly (a value where none belongs, none where one
    /// does, a missing closing quote, …); the text says which and how.
    case malformedOption(String)
    /// More options than an `authorized_keys` line may carry here.
    case tooManyOptions(limit: Int)
    /// The key's Base64 text is not strict Base64.
    case invalidBase64(Base64.DecodingError)
    /// The decoded key blob is longer than `limit` bytes.
    case blobTooLong(bytes: Int, limit: Int)
    /// The blob ends inside `field`.
    case truncatedBlob(field: String)
    /// Bytes left over after the key's last field.
    case trailingBytes(count: Int)
    /// The type named before the Base64 text is not the type inside the blob.
    case typeMismatch(outer: String, inner: String)
    /// A field of the blob holds a value the key type does not allow.
    case invalidField(field: String, reason: String)
    /// An `SSH_AUTH_INFO_0` value longer than `limit` bytes.
    case authInfoTooLong(bytes: Int, limit: Int)
    /// An `SSH_AUTH_INFO_0` value with more than `limit` methods.
    case tooManyMethods(limit: Int)
    /// Line `line` (1-based) of an `SSH_AUTH_INFO_0` value is not what sshd writes.
    case malformedAuthInfo(line: Int, reason: String)

    public var description: String {
        switch self {
        case .lineTooLong(let n, let limit):
            "the line is \(n) bytes long; at most \(limit) are allowed"
        case .fileTooLong(let n, let limit):
            "the authorized_keys file is \(n) bytes long; at most \(limit) are read"
        case .noKey:
            "the line holds no key (it is empty or a # comment)"
        case .controlCharacter(let offset):
            "a control character at byte \(offset + 1)"
        case .notASecurityKey(let type):
            "\(Self.quoted(type)) is not a security key type (only "
                + "\(SecurityKeyType.sshEd25519.rawValue) and \(SecurityKeyType.ecdsaP256.rawValue) are)"
        case .missingField(let what):
            "\(what) is missing"
        case .unknownOption(let name):
            "unknown authorized_keys option \(Self.quoted(name))"
        case .malformedOption(let why):
            "malformed authorized_keys options: \(why)"
        case .tooManyOptions(let limit):
            "more than \(limit) authorized_keys options"
        case .invalidBase64(let error):
            "the key is not valid Base64: \(error)"
        case .blobTooLong(let n, let limit):
            "the key is \(n) bytes long; at most \(limit) are allowed"
        case .truncatedBlob(let field):
            "the key ends inside its \(field)"
        case .trailingBytes(let n):
            "\(n) unexpected byte\(n == 1 ? "" : "s") after the end of the key"
        case .typeMismatch(let outer, let inner):
            "the key is named \(Self.quoted(outer)) but holds a \(Self.quoted(inner)) key"
        case .invalidField(let field, let reason):
            "the key's \(field) \(reason)"
        case .authInfoTooLong(let n, let limit):
            "SSH_AUTH_INFO_0 is \(n) bytes long; at most \(limit) are allowed"
        case .tooManyMethods(let limit):
            "SSH_AUTH_INFO_0 lists more than \(limit) methods"
        case .malformedAuthInfo(let line, let why):
            "SSH_AUTH_INFO_0 line \(line): \(why)"
        }
    }

    /// Input text for a message: escaped, at most 64 characters, in quotes.
    static func quoted(_ text: String) -> String {
        let cut = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return "'" + PrintableText.escaped(cut) + "'"
    }
}
