#if canImport(Glibc)
import Glibc
#endif
import TwoStepStore

/// Looking up the user a command acts on, with the CLI's errors.
typealias Account = UserAccount

extension UserAccount {
    /// The user called `name`; a usage error when there is none.
    static func named(checked name: String) throws(CLIError) -> UserAccount {
        let found: UserAccount?
        do { found = try UserAccount.named(name) } catch { throw .failure("cannot look up user '\(name)': \(error)") }
        guard let found else { throw .usage("no such user '\(name)'") }
        return found
    }

    /// The user running the command (by real uid).
    static func current() throws(CLIError) -> UserAccount {
        guard let account = try? UserAccount.withID(getuid()) else {
            throw .failure("cannot find uid \(getuid()) in the password database")
        }
        return account
    }

    /// This machine's host name, for the issuer and the account in otpauth URIs.
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
