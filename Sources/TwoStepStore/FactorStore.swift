import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// The factor file on disk: the only code that opens, locks, reads and
/// replaces it.
///
/// Safety rules (SPEC §2), checked on every open:
/// - the directory exists, is owned by root or by `user`, and is not
///   writable by group or others;
/// - the file is opened relative to that directory with `O_NOFOLLOW` (a
///   symlink is refused) and `O_NONBLOCK` (a FIFO cannot hang a login);
/// - it is a regular file with one link, owned by the directory's owner,
///   with no group or other permission bits, and at most `maxSize` bytes.
///
/// Changes go through `update`: an exclusive `flock` is held from the read
/// to the write (waited for at most `lockWait`: 5 s but for the module's
/// login, then `StoreError.busy`), and the new content is written to a temporary file in the
/// same directory, fsynced, renamed over the old one, and the directory is
/// fsynced. A failure at any point leaves the old file as it was. Readers
/// take a shared `flock` for the read only.
///
/// The store does not change identity: the caller opens a user's file with
/// that user's file-system identity (see `FileSystemIdentity`).
///
/// Durability: by default every replace is `Durability.durable`. `update`
/// can relax it, per change, to `.stateOnly` for changes whose loss in a
/// crash is harmless (see `Durability`); the module does so only for the
/// last accepted TOTP step and the failure count, never for a spent backup
/// code (BENCHMARKS.md, "Which writes must be durable"). Such a change is
/// usually a few digits in the first 512 bytes of the file (the writer puts
/// the `failures` line first, at a fixed width) and is written in place
/// (`InPlacePatch`), without a temporary file.
public struct FactorStore: Sendable {
    /// How hard a replace works to survive a crash.
    public enum Durability: Sendable, Equatable {
        /// The new content is fsynced before the rename and the directory
        /// after it: once `update` returns, the change survives a crash.
        case durable
        /// No fsync. A crash may lose the change (the old state comes back)
        /// but must not leave a torn or empty file. When the new text has
        /// the old one's length and differs only inside one 512-byte sector
        /// (`InPlacePatch`), those bytes are written in place: a sector is
        /// written whole or not at all, so a crash leaves the old or the new
        /// bytes. Otherwise the file is replaced without fsync on file
        /// systems that write a renamed-over file's data before committing
        /// the rename (ext4's default `auto_da_alloc`, btrfs) or keep nothing
        /// across a crash anyway (tmpfs), and durably anywhere else.
        /// For verification state only: the last accepted TOTP step and the
        /// failure count. Never for a spent backup code, a new secret or
        /// any change the user asked for.
        case stateOnly
    }

    /// The file's path.
    public let path: String
    /// The uid of the user the file belongs to.
    public let user: uid_t
    /// Larger files are refused unread.
    public static let maxSize = 1 << 20

    let directory: String
    let name: String

    /// How long a lock on the file is waited for (`TwoStepStore.LockWait`).
    public typealias LockWait = TwoStepStore.LockWait

    /// How long `read`, `update` and the other locked operations wait for the lock.
    public let lockWait: LockWait

    /// A store of the file at `path`, belonging to `user`, whose lock is
    /// waited for as `lockWait` says.
    public init(path: String, user: uid_t, lockWait: LockWait = .standard) {
        self.path = path
        self.user = user
        self.lockWait = lockWait
        (directory, name) = AtomicReplace.split(path)
    }

    /// True when root owns the file's directory: an administrator-managed
    /// store (`/var/lib/twostep/%u`), whose files root reads and writes as
    /// root. Any other store is touched with the user's file-system identity.
    public var isAdministratorManaged: Bool {
        var st = stat()
        return stat(directory, &st) == 0 && st.st_uid == 0
    }

    // MARK: Reading

    /// A file as one read saw it: what it parses to, and its exact bytes
    /// (kept in a `SecretBytes`, zeroed when released), so that a later
    /// `update(from:)` can skip parsing again when the file is unchanged.
    public struct Snapshot: Sendable {
        /// The parsed file.
        public let file: FactorFile
        let bytes: SecretBytes
        /// The directory and the file, still open, for `updateInPlace`
        /// (`readSnapshot(keepOpen: true)`).
        let descriptors: OpenDescriptors?

        /// True when `other` are the bytes this snapshot was parsed from.
        func matches(_ other: [UInt8]) -> Bool {
            guard bytes.count == other.count else { return false }
            if other.isEmpty { return true }
            return bytes.withUnsafeBytes { a in
                other.withUnsafeBytes { b in
                    guard let a = a.baseAddress, let b = b.baseAddress else { return false }
                    return memcmp(a, b, other.count) == 0
                }
            }
        }
    }

    /// Reads and parses the file under a shared lock (a state change may
    /// patch the file in place; see `update`), released on return.
    public func read() throws(StoreError) -> FactorFile {
        try readSnapshot().file
    }

    /// Like `read`, and keeps the bytes for `update(from:)`. With `keepOpen`
    /// the directory and the file (opened read-write when the caller may
    /// write it) stay open in the snapshot, checked as on every open, for
    /// `updateInPlace`; they are closed when the snapshot goes.
    public func readSnapshot(keepOpen: Bool = false) throws(StoreError) -> Snapshot {
        let dir = try openDirectory()
        var writable = keepOpen
        let file: FileDescriptor
        do {
            file = try openFile(in: dir, writable: writable)
        } catch .io(_, _, let e) where writable && (e == EACCES || e == EROFS || e == EPERM) {
            writable = false
            file = try openFile(in: dir, writable: false)
        }
        try file.lock(.shared, wait: lockWait, path: path)
        let bytes: SecretBytes
        do {
            bytes = try readAll(file)
        } catch {
            file.unlock()
            throw error
        }
        let parsed: FactorFile
        do {
            parsed = try FactorFile(stored: bytes, location: path)
        } catch {
            file.unlock()
            throw error
        }
        file.unlock()
        guard writable else { return Snapshot(file: parsed, bytes: bytes, descriptors: nil) }
        return Snapshot(file: parsed, bytes: bytes, descriptors: OpenDescriptors(file: file, directory: dir))
    }

    /// True when the file exists (it may still be unsafe or corrupt).
    public func exists() throws(StoreError) -> Bool {
        let dir = try openDirectory()
        var st = stat()
        if fstatat(dir.fd.raw, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return true }
        if errno == ENOENT { return false }
        throw .io(path: path, operation: "stat", errno: errno)
    }
}

/// A checked directory and factor file kept open between a snapshot and its
/// `updateInPlace`; closed with the last snapshot holding them.
final class OpenDescriptors: @unchecked Sendable {
    let file: FileDescriptor
    let directory: FactorStore.Directory

    init(file: consuming FileDescriptor, directory: consuming FactorStore.Directory) {
        self.file = file
        self.directory = directory
    }
}
