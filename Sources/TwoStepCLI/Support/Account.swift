#if canImport(Glibc)
import Glibc
#endif

/// A user from the password database: whose factor file we act on.
struct Account {
    let name: String
    let uid: uid_t
    let gid: gid_t
    let home: String

    /// The user called `name`; a usage error when there is none.
    static func named(_ name: String) throws(CLIError) -> Account {
        errno = 0
        guard let pw = getpwnam(name) else {
            throw errno == 0 || errno == ENOENT
                ? .usage("no such user '\(name)'")
                : .failure("cannot look up user '\(name)': \(String(cString: strerror(errno)))")
        }
        return Account(pw.pointee)
    }

    /// The user running the command (by real uid).
    static func current() throws(CLIError) -> Account {
        errno = 0
        guard let pw = getpwuid(getuid()) else {
            throw .failure("cannot find uid \(getuid()) in the password database")
        }
        return Account(pw.pointee)
    }

    private init(_ pw: passwd) {
        name = String(cString: pw.pw_name)
        uid = pw.pw_uid
        gid = pw.pw_gid
        home = String(cString: pw.pw_dir)
    }

    /// This machine's host name, for the issuer and the account in otpauth URIs.
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
