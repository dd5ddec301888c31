import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Reading the public keys `twostep add key` enrols (SPEC §11): a `.pub`
/// file, standard input, or the user's `~/.ssh/authorized_keys`. Read by
/// the CLI, as the user whose key it is (root with `--user` reads with that
/// user's file-system identity, `FileSystemIdentity`, and never through a
/// symbolic link at the end of the path); twostepd is sent only the text.
enum PublicKeyText {
    /// Largest input read: a `.pub` file is one line of well under 1 KiB;
    /// an `authorized_keys` file rarely more than a few.
    static let maxBytes = 64 * 1024

    /// The text of `path` (`-`: standard input), read as `account`.
    static func read(_ path: String, as account: UserAccount) throws -> String {
        if path == "-" { return try readStandardInput() }
        let bytes: SecretBytes
        do {
            bytes = try FileSystemIdentity.run(uid: account.uid, gid: account.gid) { () throws -> SecretBytes in
                try SafeFile.read(path, rules: FileRules(maxSize: maxBytes))
            }
        } catch StoreError.io(_, _, ENOENT) {
            throw CLIError.failure("\(path) does not exist")
        } catch StoreError.unsafe(_, let reason) where reason.hasPrefix("it is larger") {
            throw CLIError.usage("\(path) is larger than \(maxBytes / 1024) KiB: not a public key file")
        } catch StoreError.unsafe(_, let reason) {
            throw CLIError.failure("\(path): \(reason); refusing it")
        } catch {
            throw CLIError.failure("cannot read \(path) as \(account.name): \(error)")
        }
        return try text(bytes, from: path)
    }

    /// Standard input, at most `maxBytes`.
    static func readStandardInput() throws -> String {
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(STDIN_FILENO, &chunk, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError.usage("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= maxBytes else {
                throw CLIError.usage("standard input is larger than \(maxBytes / 1024) KiB: not a public key")
            }
        }
        return try text(SecretBytes(bytes), from: "standard input")
    }

    private static func text(_ bytes: SecretBytes, from source: String) throws(CLIError) -> String {
        let text: String? = bytes.withUnsafeBytes { raw in
            raw.contains(0) ? nil : String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
        }
        guard let text else { throw .usage("\(source) is not text (a public key is one line of text)") }
        return text
    }

    /// The one key `text` holds (a `.pub` file: one line; empty and `#`
    /// lines are ignored), refused with the reason when it is not a security key.
    static func oneKey(_ text: String, from source: String) throws(CLIError) -> SSHPublicKey {
        let entries: [AuthorizedKeysFile.Entry]
        do { entries = try AuthorizedKeysFile.entries(text) } catch { throw .usage("\(source): \(error)") }
        guard let entry = entries.first else { throw .usage("\(source) holds no key") }
        guard entries.count == 1 else {
            throw .usage("\(source) holds \(entries.count) keys; give one public key (a .pub file), or use --from-authorized-keys")
        }
        do { return try entry.key.get() } catch { throw .usage("\(source): \(error)") }
    }

    /// The label a key gets when none is given: its comment when that is
    /// a valid label, else its fingerprint.
    static func defaultLabel(_ key: SSHPublicKey) -> String {
        let comment = key.comment
        return !comment.isEmpty && PrintableText.problem(inLabel: comment) == nil ? comment : key.fingerprint
    }
}
