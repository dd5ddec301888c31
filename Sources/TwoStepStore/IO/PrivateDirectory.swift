import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// A directory only root may use (the send tallies, twostepd's offline
/// cache, `twostep setup`'s state): made mode 0700 when missing, and
/// refused when it is a symbolic link, not a directory, not root's, or
/// open to group or others in any way.
public enum PrivateDirectory {
    /// Makes `path` (0700) when missing, opens it without following a
    /// symbolic link and checks it on the open descriptor.
    /// - Parameter owner: the owner it must have (root by default).
    /// - Throws: `StoreError.io(path:, operation: "create", errno:)` when it
    ///   cannot be made; `.unsafe` when it is a link, not a directory, or
    ///   has another owner or any permission for group or others.
    public static func open(_ path: String, owner: uid_t = 0) throws(StoreError) -> FileDescriptor {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .io(path: path, operation: "create", errno: errno) }
        let dir: FileDescriptor
        do {
            dir = try FileDescriptor(opening: path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, path: path)
        } catch .io(_, _, let e) where e == ELOOP || e == ENOTDIR {
            throw .unsafe(path: path, reason: "it is not a directory (a symbolic link?)")
        }
        let st = try dir.status(path: path)
        guard st.st_uid == owner, st.st_mode & 0o077 == 0 else {
            let who = owner == 0 ? "root" : "uid \(owner)"
            throw .unsafe(path: path, reason: "it must be a directory owned by \(who) with mode 0700 (it is uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        return dir
    }
}
