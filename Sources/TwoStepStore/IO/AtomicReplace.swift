import TwoStepCore
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Replacing a file so that a crash or a failure at any point leaves the
/// old file or the new one, never a mix, an empty file or a half-written
/// one: the new bytes go to a temporary file of a unique name in the same
/// directory (`.NAME.RANDOM.tmp`, created with `O_EXCL | O_NOFOLLOW`, so
/// two writers never share one and a planted link is not followed),
/// written whole (short writes and `EINTR` continued), given its owner and
/// mode, fsynced, renamed over the name and, for durability, the directory
/// fsynced. On failure the temporary file is removed.
public struct AtomicReplace: Sendable {
    /// The owner and mode the new file gets (`fchown`, `fchmod`): by
    /// default the writer's, 0600.
    public var owner: (uid: uid_t, gid: gid_t)?
    /// The new file's permission bits (`fchmod`); nil: created 0600 (less
    /// the umask) and left so.
    public var mode: mode_t?
    /// fsync the new file before the rename (else a crash may leave an
    /// empty file on file systems that do not order renamed data).
    public var syncFile: Bool
    /// fsync the directory after the rename: once `replace` returns, the
    /// change survives a crash.
    public var syncDirectory: Bool

    /// A durable replace (both fsyncs) by default.
    public init(owner: (uid: uid_t, gid: gid_t)? = nil, mode: mode_t? = nil, syncFile: Bool = true, syncDirectory: Bool = true) {
        self.owner = owner
        self.mode = mode
        self.syncFile = syncFile
        self.syncDirectory = syncDirectory
    }

    /// A replace without any fsync: for copies whose loss in a crash is harmless.
    public static let unsynced = AtomicReplace(syncFile: false, syncDirectory: false)

    /// Makes `name` in the open directory `directory` hold `bytes`.
    /// With `noReplace`, only where no file of that name exists
    /// (`renameat2(RENAME_NOREPLACE)`; `EEXIST` otherwise). `path` names the
    /// file in errors.
    /// - Throws: `StoreError.io(path:, operation:, errno:)` naming the step
    ///   that failed; nothing was changed then.
    public func replace(_ name: String, in directory: borrowing FileDescriptor, with bytes: UnsafeRawBufferPointer,
                        noReplace: Bool = false, path: String) throws(StoreError) {
        let temp = try writeTemporary(for: name, in: directory, bytes: bytes, path: path)
        let renamed = noReplace ? twostep_rename_noreplace(directory.raw, temp, directory.raw, name) : renameat(directory.raw, temp, directory.raw, name)
        guard renamed == 0 else {
            let e = errno
            unlinkat(directory.raw, temp, 0)
            throw .io(path: path, operation: "rename", errno: e)
        }
        if syncDirectory { try directory.sync(path: path, operation: "fsync directory of") }
    }

    /// `replace` of `bytes`.
    public func replace(_ name: String, in directory: borrowing FileDescriptor, with bytes: [UInt8],
                        noReplace: Bool = false, path: String) throws(StoreError) {
        let failure: StoreError? = bytes.withUnsafeBytes { raw in
            do throws(StoreError) {
                try replace(name, in: directory, with: raw, noReplace: noReplace, path: path)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// `replace` of the file at `path`, in the directory `path` names.
    public func replace(path: String, with bytes: [UInt8]) throws(StoreError) {
        let (dir, name) = Self.split(path)
        let directory = try FileDescriptor(opening: dir, flags: O_RDONLY | O_DIRECTORY, path: path)
        try replace(name, in: directory, with: bytes, path: path)
    }

    /// The temporary file `.NAME.RANDOM.tmp` holding `bytes`, written
    /// whole, owned and fsynced as asked, closed. Its name is returned.
    func writeTemporary(for name: String, in directory: borrowing FileDescriptor, bytes: UnsafeRawBufferPointer,
                        path: String) throws(StoreError) -> String {
        let suffix: String
        do { suffix = Hex.encode(try SystemRandom.bytes(6)) } catch {
            throw .io(path: path, operation: "getrandom for", errno: EIO)
        }
        let temp = ".\(name).\(suffix).tmp"
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor(opening: temp, relativeTo: directory.raw, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        } catch .io(_, _, let e) {
            throw .io(path: path, operation: "create temporary file for", errno: e)
        } catch {
            throw error
        }
        var failure: (String, Int32)?
        var written = 0
        while written < bytes.count, let base = bytes.baseAddress {
            let n = write(fd.raw, base + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                failure = ("write", errno)
                break
            }
            written += n
        }
        if failure == nil, let owner, fchown(fd.raw, owner.uid, owner.gid) != 0 { failure = ("set the owner of", errno) }
        if failure == nil, let mode, fchmod(fd.raw, mode) != 0 { failure = ("set the mode of", errno) }
        if failure == nil, syncFile, fsync(fd.raw) != 0 { failure = ("fsync", errno) }
        let closed = fd.close()
        if failure == nil, closed != 0 { failure = ("close", closed) }
        if let failure {
            unlinkat(directory.raw, temp, 0)
            throw .io(path: path, operation: failure.0, errno: failure.1)
        }
        return temp
    }

    /// Removes the temporary files (`.NAME.*.tmp`, regular files) a writer
    /// killed before its rename left in `directory`, once they are
    /// `minimumAge` seconds old (a younger one may belong to a running
    /// writer). Best effort: a failure changes nothing else.
    public static func removeStaleTemporaries(of name: String, in directory: borrowing FileDescriptor, minimumAge: Int = 60) {
        let prefix = ".\(name)."
        let now = time(nil)
        let dir = directory.raw
        directory.forEachEntry { entry in
            guard entry.hasPrefix(prefix), entry.hasSuffix(".tmp") else { return }
            var st = stat()
            guard fstatat(dir, entry, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG,
                  now - st.st_mtim.tv_sec > minimumAge else { return }
            unlinkat(dir, entry, 0)
        }
    }

    /// The directory and the last name of `path` (`.` for a bare name, `/` for `/x`).
    public static func split(_ path: String) -> (directory: String, name: String) {
        // `/` is one byte: its UTF-8 index is a character boundary.
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }
}
