#if canImport(Glibc)
import Glibc
#endif
import TwoStepStore

/// A user from the password database: whose factor file we act on
/// (TwoStepStore's `UserAccount`, with the CLI's errors).
struct Account {
    let name: String
    let uid: uid_t
    let gid: gid_t
    let home: String

    /// The user called `name`; a usage error when there is none.
    static func named(_ name: String) throws(CLIError) -> Account {
        let found: UserAccount?
        do { found = try UserAccount.named(name) } catch { throw .failure("cannot look up user '\(name)': \(error)") }
        guard let found else { throw .usage("no such user '\(name)'") }
        return Account(found)
    }

    /// The user running the command (by real uid).
    static func current() throws(CLIError) -> Account {
        guard let account = try? UserAccount.withID(getuid()) else {
            throw .failure("cannot find uid \(getuid()) in the password database")
        }
        return Account(account)
    }

    private init(_ account: UserAccount) {
        name = account.name
        uid = account.uid
        gid = account.gid
        home = account.home
    }

    /// This machine's host name, for the issuer and the account in otpauth URIs.
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
