/// The keys of a whole `authorized_keys` file, line by line, for offering a
/// user's security keys for enrolment (`twostep add key
/// --from-authorized-keys`, SPEC §11).
public enum AuthorizedKeysFile {
    /// One line that holds a key: its number (1-based) and the security key
    /// on it, or why it is none (most often `.notASecurityKey` naming the type).
    public struct Entry: Sendable, Equatable {
        public let line: Int
        public let key: Result<SSHPublicKey, SecurityKeyError>
    }

    /// Largest file read (sshd has no limit; a user's file is rarely over a few KiB).
    public static let maxBytes = 1024 * 1024

    /// Every line that is not empty or a `#` comment, in order. Lines end
    /// in `\n` (a `\r` before it is ignored).
    public static func entries(_ text: String) throws(SecurityKeyError) -> [Entry] {
        let length = text.utf8.count
        guard length <= maxBytes else { throw .fileTooLong(bytes: length, limit: maxBytes) }
        var out = [Entry]()
        for (i, line) in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let result: Result<SSHPublicKey, SecurityKeyError>
            do {
                result = .success(try SSHPublicKey(authorizedKeysLine: String(decoding: line, as: UTF8.self)))
            } catch .noKey {
                continue
            } catch {
                result = .failure(error)
            }
            out.append(Entry(line: i + 1, key: result))
        }
        return out
    }

    /// The security keys in `text`, in order (other lines left out).
    public static func securityKeys(_ text: String) throws(SecurityKeyError) -> [SSHPublicKey] {
        try entries(text).compactMap { try? $0.key.get() }
    }
}
