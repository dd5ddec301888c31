#if canImport(Glibc)
import Glibc
#endif

/// A user from the password database: the account whose factor file is
/// read and written, with the identity to read and write it as.
///
/// Looked up with `getpwnam_r`/`getpwuid_r` into a buffer of its own: safe
/// in a threaded PAM application, and nothing is left on the PAM handle
/// (`pam_modutil_getpwnam` keeps every result on the handle until
/// `pam_end`, so a reused handle grew, and got slower, with every login).
public struct UserAccount: Sendable, Equatable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    /// The home directory (`pw_dir`).
    public let home: String

    /// Why a lookup failed (not "no such user": that is a nil result).
    public struct LookupError: Error, Equatable, Sendable, CustomStringConvertible {
        public let errno: Int32
        public var description: String { "password database lookup failed: \(String(cString: strerror(errno)))" }
    }

    public init(name: String, uid: uid_t, gid: gid_t, home: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
    }

    /// The user called `name`; nil when there is none. Throws when the
    /// database could not be asked (an NSS error): callers must not take
    /// that for "no such user".
    public static func named(_ name: String) throws(LookupError) -> UserAccount? {
        try lookup { entry, buffer, count, result in getpwnam_r(name, entry, buffer, count, result) }
    }

    /// The user with uid `uid`; nil when there is none.
    public static func withID(_ uid: uid_t) throws(LookupError) -> UserAccount? {
        try lookup { entry, buffer, count, result in getpwuid_r(uid, entry, buffer, count, result) }
    }

    private static func lookup(
        _ call: (UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>) -> Int32
    ) throws(LookupError) -> UserAccount? {
        var size = 1024
        while true {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: size)
            let rc = buffer.withUnsafeMutableBufferPointer { call(&entry, $0.baseAddress!, size, &result) }
            if rc == ERANGE && size < 1 << 20 {
                size *= 2
                continue
            }
            if rc != 0 { throw LookupError(errno: rc) }
            guard result != nil else { return nil }
            return UserAccount(name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid,
                               home: String(cString: entry.pw_dir))
        }
    }
}
