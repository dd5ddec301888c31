import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif
import CLinux

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

    private let directory: String
    private let name: String

    /// How long a lock on the file is waited for.
    public enum LockWait: Sendable, Equatable {
        /// As long as it takes: only for the PAM module's own login, where
        /// what waits is a login of the record's own user (only that user
        /// and root can open, and so lock, the file), bounded by the PAM
        /// application's own time limit (sshd's LoginGraceTime).
        case untilAcquired
        /// At most this many milliseconds, then `StoreError.busy`: every
        /// other caller (the CLI, twostepd), so that a user who holds their
        /// own file's lock (`flock -x ~/.twostep`, a stopped `su`) cannot
        /// hang root's commands or twostepd's threads.
        case within(milliseconds: Int)

        /// The bound everything but the module's login uses: 5 s.
        public static let standard = LockWait.within(milliseconds: 5_000)
    }

    /// How long `read`, `update` and the other locked operations wait for the lock.
    public let lockWait: LockWait

    public init(path: String, user: uid_t, lockWait: LockWait = .standard) {
        self.path = path
        self.user = user
        self.lockWait = lockWait
        // `/` is one byte: its UTF-8 index is a character boundary.
        if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
            let dir = String(path[..<slash])
            directory = dir.isEmpty ? "/" : dir
            name = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            name = path
        }
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
        fileprivate let bytes: SecretBytes
        /// The directory and the file, still open, for `updateInPlace`
        /// (`readSnapshot(keepOpen: true)`).
        fileprivate let descriptors: OpenDescriptors?

        /// True when `other` are the bytes this snapshot was parsed from.
        fileprivate func matches(_ other: [UInt8]) -> Bool {
            guard bytes.count == other.count else { return false }
            if other.isEmpty { return true }
            return bytes.withUnsafeBytes { a in other.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0 } }
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
        var fd: Int32
        var writable = keepOpen
        do {
            fd = try openFile(in: dir, writable: writable)
        } catch StoreError.io(_, _, let e) where writable && (e == EACCES || e == EROFS || e == EPERM) {
            writable = false
            do { fd = try openFile(in: dir, writable: false) } catch { close(dir.fd); throw error }
        } catch {
            close(dir.fd)
            throw error
        }
        let descriptors = writable ? OpenDescriptors(directory: dir.fd, directoryOwner: dir.owner, file: fd) : nil
        defer {
            if descriptors == nil {
                close(fd)
                close(dir.fd)
            }
        }
        try lock(fd, LOCK_SH)
        defer { flock(fd, LOCK_UN) }
        var bytes = try readAll(fd)
        defer { cleanse(&bytes) }
        return Snapshot(file: try parse(bytes), bytes: SecretBytes(bytes), descriptors: descriptors)
    }

    /// True when the file exists (it may still be unsafe or corrupt).
    public func exists() throws(StoreError) -> Bool {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        var st = stat()
        if fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return true }
        if errno == ENOENT { return false }
        throw .io(path: path, operation: "stat", errno: errno)
    }

    // MARK: Changing

    /// Locked read-modify-write. `body` gets the parsed file and may change
    /// it; when the text changed, the new text is stored before the lock is
    /// released. An error thrown by `body` writes nothing.
    ///
    /// `snapshot`: an earlier `readSnapshot`; when the file still holds the
    /// same bytes, its parsed file is used instead of parsing again.
    /// `durability` chooses, from `body`'s result, how the change is stored
    /// (default: `.durable`). A `.stateOnly` change is written in place when
    /// `InPlacePatch` allows it, else by a replace without fsync where the
    /// file system allows that (`ordersRenamedData`), else durably.
    public func update<T>(
        from snapshot: Snapshot? = nil,
        durability: (T) -> Durability = { _ in .durable }, _ body: (inout FactorFile) throws -> T
    ) throws -> T {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        let fd = try openLocked(in: dir)
        defer { close(fd) }
        var oldBytes = try readAll(fd)
        defer { cleanse(&oldBytes) }
        let old: FactorFile
        if let snapshot, snapshot.matches(oldBytes) {
            old = snapshot.file
        } else {
            old = try parse(oldBytes)
        }
        var new = old
        let result = try body(&new)
        var newBytes = new.bytes(reusingLinesOf: old, in: oldBytes)
        defer { cleanse(&newBytes) }
        if newBytes == oldBytes { return result }
        let relaxed = durability(result) == .stateOnly
        if relaxed, let written = writeInPlace(fd, old: oldBytes, new: newBytes) {
            // A failed write: the whole file the safe way.
            if !written { try replace(in: dir, with: newBytes) }
            return result
        }
        // A file not in the writer's exact form (comments, field order, an
        // older writer) that means the same: nothing to store.
        if old.text == new.text { return result }
        try replace(in: dir, with: newBytes, sync: !(relaxed && Self.ordersRenamedData(fd)))
        return result
    }

    /// The fast path of a `.stateOnly` change, for the module's verification:
    /// an exclusive lock on the descriptor `snapshot` kept open
    /// (`readSnapshot(keepOpen: true)`); when the file is still the one read
    /// (same inode, passing the same checks, same bytes) and the change
    /// `body` makes is `.stateOnly` and fits `InPlacePatch`, it is written in
    /// place and `body`'s result returned. No path is opened or created, so
    /// the caller needs no identity switch: the descriptor was opened with
    /// the user's. Nil when any of that does not hold: nothing was written,
    /// and the caller runs `update` instead — so `body` must be pure (it may
    /// run twice).
    public func updateInPlace<T>(
        from snapshot: Snapshot, durability: (T) -> Durability, _ body: (inout FactorFile) throws -> T
    ) throws -> T? {
        guard let open = snapshot.descriptors else { return nil }
        try lock(open.file, LOCK_EX)
        defer { flock(open.file, LOCK_UN) }
        var held = stat(), current = stat()
        guard fstat(open.file, &held) == 0, fstatat(open.directory, name, &current, AT_SYMLINK_NOFOLLOW) == 0,
              held.st_dev == current.st_dev, held.st_ino == current.st_ino else { return nil }
        try check(held, directoryOwner: open.directoryOwner)
        var oldBytes = try readAll(open.file, size: held.st_size)
        defer { cleanse(&oldBytes) }
        guard snapshot.matches(oldBytes) else { return nil }
        var new = snapshot.file
        let result = try body(&new)
        var newBytes = new.bytes(reusingLinesOf: snapshot.file, in: oldBytes)
        defer { cleanse(&newBytes) }
        if newBytes == oldBytes { return result }
        // Not in place, or a failed write: `update` writes the whole file.
        guard durability(result) == .stateOnly, writeInPlace(open.file, old: oldBytes, new: newBytes) == true else {
            return nil
        }
        return result
    }

    /// True when the file system holding `fd` writes the data of a file
    /// renamed over another before it commits the rename, so that a crash
    /// leaves the old or the new file, never an empty one: ext4 (its
    /// default `auto_da_alloc`; an administrator who mounts with
    /// `noauto_da_alloc` gives that up), btrfs, and tmpfs (nothing survives
    /// a crash there anyway).
    static func ordersRenamedData(_ fd: Int32) -> Bool {
        switch twostep_fs_type(fd) {
        case 0xEF53, 0x9123_683E, 0x0102_1994: return true  // ext2/3/4, btrfs, tmpfs
        default: return false
        }
    }

    /// Writes a new file where none exists; throws `alreadyExists` otherwise
    /// (two enrolments at once cannot overwrite each other).
    public func create(_ file: FactorFile) throws(StoreError) {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        let temp = try writeTemporary(in: dir, bytes: bytes)
        if twostep_rename_noreplace(dir.fd, temp, dir.fd, name) != 0 {
            let e = errno
            unlinkat(dir.fd, temp, 0)
            throw e == EEXIST ? .alreadyExists(path: path) : .io(path: path, operation: "rename", errno: e)
        }
        try syncDirectory(dir)
    }

    /// Replaces the file whatever it holds (even a corrupt one), under the
    /// lock and after the same safety checks, for `enroll --force`.
    public func overwrite(with file: FactorFile) throws(StoreError) {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        let fd = try openLocked(in: dir)
        defer { close(fd) }
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        try replace(in: dir, with: bytes)
    }

    /// What `commit` stores once its body has decided.
    public typealias Ending = StoreEnding

    /// One locked change that may replace the file whatever it held or
    /// remove it (`enroll --force`, `disable`): under the exclusive lock,
    /// `body` gets the current file (`.failure(.corrupt)` when it does not
    /// parse, so that a corrupt file can still be replaced) and returns its
    /// result and what to store. An error thrown by `body` writes nothing.
    public func commit<T>(_ body: (Result<FactorFile, StoreError>) throws -> (T, Ending)) throws -> T {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        let fd = try openLocked(in: dir)
        defer { close(fd) }
        var oldBytes = try readAll(fd)
        defer { cleanse(&oldBytes) }
        let current: Result<FactorFile, StoreError>
        do throws(StoreError) { current = .success(try parse(oldBytes)) } catch { current = .failure(error) }
        let (result, ending) = try body(current)
        switch ending {
        case .write(let file):
            var bytes = Array(file.text.utf8)
            defer { cleanse(&bytes) }
            try replace(in: dir, with: bytes)
        case .remove:
            guard unlinkat(dir.fd, name, 0) == 0 else { throw StoreError.io(path: path, operation: "unlink", errno: errno) }
            removeStaleTemporaries(in: dir)
            try syncDirectory(dir)
        }
        return result
    }

    /// Removes the file (after the safety checks, under the lock).
    public func remove() throws(StoreError) {
        let dir = try openDirectory()
        defer { close(dir.fd) }
        let fd = try openLocked(in: dir)
        defer { close(fd) }
        guard unlinkat(dir.fd, name, 0) == 0 else { throw .io(path: path, operation: "unlink", errno: errno) }
        removeStaleTemporaries(in: dir)
        try syncDirectory(dir)
    }

    /// Writes `new` over `old` in the open file when the change fits
    /// `InPlacePatch`. Nil when it does not fit (nothing written); false when
    /// the write failed, after putting back the old bytes of the range (a
    /// partial write of a few bytes is all but impossible).
    private func writeInPlace(_ fd: Int32, old: [UInt8], new: [UInt8]) -> Bool? {
        guard let range = InPlacePatch.range(from: old, to: new) else { return nil }
        if patch(fd, with: new, in: range) { return true }
        _ = patch(fd, with: old, in: range)
        return false
    }

    /// Writes `bytes[range]` over the same range of the open file (the rest
    /// of the file already holds the other bytes). False when the write
    /// failed or was short.
    private func patch(_ fd: Int32, with bytes: [UInt8], in range: Range<Int>) -> Bool {
        while true {
            let n = bytes.withUnsafeBytes { b in
                pwrite(fd, UnsafeRawBufferPointer(rebasing: b[range]).baseAddress, range.count, off_t(range.lowerBound))
            }
            if n < 0 && errno == EINTR { continue }
            return n == range.count
        }
    }

    /// Takes `operation` (`LOCK_SH`, `LOCK_EX`) on `fd` as `lockWait` says:
    /// with `.within`, by `LOCK_NB` tries with a growing pause (1 ms doubling
    /// to 50 ms) until the deadline, then `StoreError.busy`.
    private func lock(_ fd: Int32, _ operation: Int32) throws(StoreError) {
        guard case .within(let milliseconds) = lockWait else {
            while flock(fd, operation) != 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "lock", errno: errno)
            }
            return
        }
        let deadline = Self.monotonicMilliseconds() + Int64(milliseconds)
        var pause: Int64 = 1
        while flock(fd, operation | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            guard e == EWOULDBLOCK else { throw .io(path: path, operation: "lock", errno: e) }
            let left = deadline - Self.monotonicMilliseconds()
            guard left > 0 else { throw .busy(path: path, seconds: (milliseconds + 999) / 1000) }
            // A signal may cut the pause short: the loop tries again, the deadline holds.
            var pauseTime = timespec(tv_sec: 0, tv_nsec: Int(min(pause, left)) * 1_000_000)
            nanosleep(&pauseTime, nil)
            pause = min(pause * 2, 50)
        }
    }

    private static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: Opening and checking

    private struct Directory {
        var fd: Int32
        var owner: uid_t
    }

    private func openDirectory() throws(StoreError) -> Directory {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .directoryMissing(path: path) }
            if e == ENOTDIR { throw .unsafe(path: path, reason: "\(directory) is not a directory") }
            throw .io(path: path, operation: "open directory of", errno: e)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw .io(path: path, operation: "stat directory of", errno: e)
        }
        if st.st_uid != user && st.st_uid != 0 {
            close(fd)
            throw .unsafe(path: path, reason: "its directory \(directory) is owned by uid \(st.st_uid), not by the user or root")
        }
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            close(fd)
            throw .unsafe(path: path, reason: "its directory \(directory) is writable by group or others")
        }
        return Directory(fd: fd, owner: st.st_uid)
    }

    private func openFile(in dir: Directory, writable: Bool) throws(StoreError) -> Int32 {
        for _ in 0..<1000 {
            let fd = try openUnchecked(in: dir, writable: writable)
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let e = errno
                close(fd)
                throw .io(path: path, operation: "stat", errno: e)
            }
            // No links left: a concurrent update renamed a new file over the
            // name after we opened it. Open the new one.
            if st.st_nlink == 0 {
                close(fd)
                continue
            }
            do throws(StoreError) {
                try check(st, directoryOwner: dir.owner)
            } catch {
                close(fd)
                throw error
            }
            return fd
        }
        throw .io(path: path, operation: "open (the file kept being replaced)", errno: EAGAIN)
    }

    private func openUnchecked(in dir: Directory, writable: Bool) throws(StoreError) -> Int32 {
        let flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY
        let fd = openat(dir.fd, name, flags)
        guard fd >= 0 else {
            let e = errno
            switch e {
            case ENOENT: throw .notEnrolled(path: path)
            case ELOOP: throw .unsafe(path: path, reason: "it is a symbolic link")
            case EISDIR: throw .unsafe(path: path, reason: "it is a directory")
            default: throw .io(path: path, operation: "open", errno: e)
            }
        }
        return fd
    }

    private func check(_ st: stat, directoryOwner: uid_t) throws(StoreError) {
        guard st.st_mode & S_IFMT == S_IFREG else { throw .unsafe(path: path, reason: "it is not a regular file") }
        guard st.st_uid == directoryOwner else {
            throw .unsafe(path: path, reason: "it is owned by uid \(st.st_uid), not by the owner of its directory (uid \(directoryOwner))")
        }
        guard st.st_mode & (S_IRWXG | S_IRWXO) == 0 else {
            throw .unsafe(path: path, reason: "group or others may access it (mode \(String(st.st_mode & 0o777, radix: 8)); it must be 600)")
        }
        guard st.st_nlink == 1 else { throw .unsafe(path: path, reason: "it has \(st.st_nlink) hard links") }
        guard st.st_size <= Self.maxSize else { throw .unsafe(path: path, reason: "it is larger than \(Self.maxSize) bytes") }
    }

    /// Opens the file read-write and takes the exclusive lock. When the name
    /// was replaced while we waited, the lock is on a dead inode: open again.
    private func openLocked(in dir: Directory) throws(StoreError) -> Int32 {
        for _ in 0..<1000 {
            // Checked only once locked and known current: until then the
            // file may be a replaced (unlinked) one.
            let fd = try openUnchecked(in: dir, writable: true)
            do throws(StoreError) {
                try lock(fd, LOCK_EX)
            } catch {
                close(fd)
                throw error
            }
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, fstatat(dir.fd, name, &current, AT_SYMLINK_NOFOLLOW) == 0,
               held.st_dev == current.st_dev, held.st_ino == current.st_ino {
                do throws(StoreError) {
                    try check(held, directoryOwner: dir.owner)
                } catch {
                    close(fd)
                    throw error
                }
                return fd
            }
            close(fd)
        }
        throw .io(path: path, operation: "lock (the file kept being replaced)", errno: EAGAIN)
    }

    /// The whole file, read into one buffer sized from `fstat` (plus room to
    /// notice growth). Called with a lock held, so the size `fstat` gives is
    /// the size to read: once that many bytes are in, no read for the end of
    /// the file is needed. `size`: what the caller's `fstat` under the lock
    /// gave, so as not to ask again. The caller cleanses the result.
    private func readAll(_ fd: Int32, size: off_t? = nil) throws(StoreError) -> [UInt8] {
        let expected: Int
        if let size {
            expected = Int(size)
        } else {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
            expected = Int(st.st_size)
        }
        var data = [UInt8](repeating: 0, count: min(expected, Self.maxSize) + 256)
        var count = 0
        while true {
            if count == data.count {
                // The file grew since fstat: a larger buffer, the old one wiped.
                guard count <= Self.maxSize else {
                    cleanse(&data)
                    throw .unsafe(path: path, reason: "it is larger than \(Self.maxSize) bytes")
                }
                var larger = [UInt8](repeating: 0, count: 2 * count)
                data.withUnsafeBytes { old in larger.withUnsafeMutableBytes { $0.copyMemory(from: old) } }
                cleanse(&data)
                data = larger
            }
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + count, $0.count - count, off_t(count)) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                cleanse(&data)
                throw .io(path: path, operation: "read", errno: e)
            }
            if n == 0 { break }
            count += n
            if count == expected && count < data.count { break }
        }
        data.removeSubrange(count...)
        return data
    }

    /// Parses bytes read from the file; the caller cleanses them.
    private func parse(_ bytes: [UInt8]) throws(StoreError) -> FactorFile {
        // ASCII (what the writer writes) is UTF-8: no copy to check it.
        guard bytes.withUnsafeBufferPointer(ByteScan.isASCII) || String(validating: bytes, as: UTF8.self) != nil else {
            throw .corrupt(path: path, error: .malformedFile(line: 1 + bytes.count(where: { $0 == 10 }), reason: "not UTF-8 text"))
        }
        do {
            return try FactorFile(parsing: bytes)
        } catch {
            throw .corrupt(path: path, error: error)
        }
    }

    // MARK: Writing

    private func writeTemporary(in dir: Directory, bytes: [UInt8], sync: Bool = true) throws(StoreError) -> String {
        let suffix: String
        do { suffix = Hex.encode(try SystemRandom.bytes(6)) } catch {
            throw .io(path: path, operation: "getrandom for", errno: EIO)
        }
        let temp = ".\(name).\(suffix).tmp"
        let fd = openat(dir.fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: path, operation: "create temporary file for", errno: errno) }
        var written = 0
        var failure: (String, Int32)?
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = ("write", errno)
                break
            }
            written += n
        }
        if failure == nil, sync, fsync(fd) != 0 { failure = ("fsync", errno) }
        if close(fd) != 0, failure == nil { failure = ("close", errno) }
        if let failure {
            unlinkat(dir.fd, temp, 0)
            throw .io(path: path, operation: failure.0, errno: failure.1)
        }
        return temp
    }

    /// Temp file, rename over the old file; with `sync` (`.durable`) the
    /// temp file is fsynced before and the directory after the rename.
    private func replace(in dir: Directory, with bytes: [UInt8], sync: Bool = true) throws(StoreError) {
        let temp = try writeTemporary(in: dir, bytes: bytes, sync: sync)
        guard renameat(dir.fd, temp, dir.fd, name) == 0 else {
            let e = errno
            unlinkat(dir.fd, temp, 0)
            throw .io(path: path, operation: "rename", errno: e)
        }
        if sync {
            removeStaleTemporaries(in: dir)
            try syncDirectory(dir)
        }
    }

    /// A writer killed between creating its temporary file and the rename
    /// leaves `.NAME.RANDOM.tmp` behind, holding the secrets of that moment.
    /// Durable changes and `remove` (disable, reset) delete such files once
    /// they are a minute old (a younger one may belong to a running `create`,
    /// which takes no lock). Best effort: a failure here changes nothing else.
    private func removeStaleTemporaries(in dir: Directory) {
        let copy = dup(dir.fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return
        }
        defer { closedir(stream) }
        let prefix = ".\(name)."
        let now = time(nil)
        while let entry = readdir(stream) {
            // strlen on d_name in place: the bytes after its NUL are not
            // initialised, so nothing may read (or copy) past it.
            let entryName = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            guard entryName.hasPrefix(prefix), entryName.hasSuffix(".tmp") else { continue }
            var st = stat()
            guard fstatat(dir.fd, entryName, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG,
                  now - st.st_mtim.tv_sec > 60 else { continue }
            unlinkat(dir.fd, entryName, 0)
        }
    }

    private func syncDirectory(_ dir: Directory) throws(StoreError) {
        guard fsync(dir.fd) == 0 else { throw .io(path: path, operation: "fsync directory of", errno: errno) }
    }
}

/// A checked directory and factor file kept open between a snapshot and its
/// `updateInPlace`; closed with the last snapshot holding them.
final class OpenDescriptors: @unchecked Sendable {
    let directory: Int32
    let directoryOwner: uid_t
    let file: Int32

    init(directory: Int32, directoryOwner: uid_t, file: Int32) {
        self.directory = directory
        self.directoryOwner = directoryOwner
        self.file = file
    }

    deinit {
        close(file)
        close(directory)
    }
}
