#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// Switches the process's file-system identity (setfsuid/setfsgid, and the
/// user's primary group as the only supplementary group) so that a user's
/// file is read and written with that user's permissions, never as root.
/// Used by the PAM module for every access to a user-owned store, and by
/// the CLI run by root with `--user`. Supplementary groups are not looked
/// up: the factor file is owner-only, so they could only widen access.
public enum FileSystemIdentity {
    /// Runs `body` as `uid`/`gid` on the file system, then switches back.
    /// Throws when the switch cannot be confirmed.
    public static func run<T>(uid: uid_t, gid: gid_t, _ body: () throws -> T) throws -> T {
        if geteuid() != 0 || uid == 0 { return try body() }
        let groupCount = getgroups(0, nil)
        var savedGroups = [gid_t](repeating: 0, count: Int(max(groupCount, 0)))
        guard groupCount >= 0, getgroups(groupCount, &savedGroups) == groupCount else {
            throw StoreError.io(path: "", operation: "getgroups", errno: errno)
        }
        var target = [gid]
        guard setgroups(1, &target) == 0 else { throw StoreError.io(path: "", operation: "setgroups", errno: errno) }
        let oldGID = gid_t(twostep_setfsgid(gid))
        let oldUID = uid_t(twostep_setfsuid(uid))
        defer {
            twostep_setfsuid(oldUID)
            twostep_setfsgid(oldGID)
            setgroups(savedGroups.count, &savedGroups)
        }
        // setfsuid returns the previous value and never fails loudly: ask again to confirm.
        guard uid_t(twostep_setfsuid(uid)) == uid, gid_t(twostep_setfsgid(gid)) == gid else {
            throw StoreError.io(path: "", operation: "setfsuid", errno: EPERM)
        }
        return try body()
    }
}
