#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// Switches the process's file-system identity (setfsuid/setfsgid, and the
/// user's primary group as the only supplementary group when the process
/// has any) so that a user's
/// file is read and written with that user's permissions, never as root.
/// Used by the PAM module for every access to a user-owned store, and by
/// the CLI run by root with `--user`. Supplementary groups are not looked
/// up: the factor file is owner-only, so they could only widen access.
public enum FileSystemIdentity {
    /// Runs `body` as `uid`/`gid` on the file system, then switches back.
    /// Throws when the switch cannot be confirmed.
    public static func run<T>(uid: uid_t, gid: gid_t, _ body: () throws -> T) throws -> T {
        if geteuid() != 0 || uid == 0 { return try body() }
        var savedGroups = [gid_t](repeating: 0, count: 32)
        var groupCount = getgroups(Int32(savedGroups.count), &savedGroups)
        if groupCount < 0 && errno == EINVAL {
            savedGroups = [gid_t](repeating: 0, count: Int(max(getgroups(0, nil), 0)))
            groupCount = getgroups(Int32(savedGroups.count), &savedGroups)
        }
        guard groupCount >= 0 else { throw StoreError.io(path: "", operation: "getgroups", errno: errno) }
        savedGroups.removeSubrange(Int(groupCount)...)
        // With no supplementary groups (sshd, most daemons) the file-system
        // gid alone decides group access: nothing to change, nothing to restore.
        let changeGroups = !savedGroups.isEmpty
        if changeGroups {
            var target = [gid]
            guard setgroups(1, &target) == 0 else { throw StoreError.io(path: "", operation: "setgroups", errno: errno) }
        }
        let oldGID = gid_t(twostep_setfsgid(gid))
        let oldUID = uid_t(twostep_setfsuid(uid))
        defer {
            twostep_setfsuid(oldUID)
            twostep_setfsgid(oldGID)
            if changeGroups { setgroups(savedGroups.count, &savedGroups) }
        }
        // setfsuid returns the previous value and never fails loudly: ask
        // again to confirm. An invalid id (-1) changes nothing and returns
        // the current one, without the kernel preparing new credentials.
        guard uid_t(twostep_setfsuid(uid_t.max)) == uid, gid_t(twostep_setfsgid(gid_t.max)) == gid else {
            throw StoreError.io(path: "", operation: "setfsuid", errno: EPERM)
        }
        return try body()
    }
}
