import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// Every change to the factor file: under the exclusive lock, written by
/// `AtomicReplace` (or, for verification state, `InPlacePatch`).
extension FactorStore {
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
        let fd = try openLocked(in: dir)
        var oldBytes = try readBytes(fd)
        defer { cleanse(&oldBytes) }
        let old: FactorFile
        if let snapshot, snapshot.matches(oldBytes) {
            old = snapshot.file
        } else {
            old = try FactorFile(stored: oldBytes, location: path)
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
        try replace(in: dir, with: newBytes, sync: !(relaxed && Self.ordersRenamedData(fd.raw)))
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
        try open.file.lock(.exclusive, wait: lockWait, path: path)
        defer { open.file.unlock() }
        var held = stat(), current = stat()
        guard fstat(open.file.raw, &held) == 0, fstatat(open.directory.fd.raw, name, &current, AT_SYMLINK_NOFOLLOW) == 0,
              held.st_dev == current.st_dev, held.st_ino == current.st_ino else { return nil }
        try check(held, directoryOwner: open.directory.owner)
        var oldBytes = try readBytes(open.file, size: held.st_size)
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
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        do {
            try AtomicReplace().replace(name, in: dir.fd, with: bytes, noReplace: true, path: path)
        } catch .io(_, "rename", EEXIST) {
            throw .alreadyExists(path: path)
        }
    }

    /// Replaces the file whatever it holds (even a corrupt one), under the
    /// lock and after the same safety checks, for `enroll --force`.
    public func overwrite(with file: FactorFile) throws(StoreError) {
        let dir = try openDirectory()
        let fd = try openLocked(in: dir)
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        try replace(in: dir, with: bytes)
        _ = consume fd
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
        let fd = try openLocked(in: dir)
        var oldBytes = try readBytes(fd)
        defer { cleanse(&oldBytes) }
        let current: Result<FactorFile, StoreError>
        do throws(StoreError) { current = .success(try FactorFile(stored: oldBytes, location: path)) } catch { current = .failure(error) }
        let (result, ending) = try body(current)
        switch ending {
        case .write(let file):
            var bytes = Array(file.text.utf8)
            defer { cleanse(&bytes) }
            try replace(in: dir, with: bytes)
        case .remove:
            try unlink(in: dir)
        }
        _ = consume fd
        return result
    }

    /// Removes the file (after the safety checks, under the lock).
    public func remove() throws(StoreError) {
        let dir = try openDirectory()
        let fd = try openLocked(in: dir)
        try unlink(in: dir)
        _ = consume fd
    }

    /// Unlinks the file (the caller holds its lock), then removes stale
    /// temporary files and fsyncs the directory.
    private func unlink(in dir: borrowing Directory) throws(StoreError) {
        guard unlinkat(dir.fd.raw, name, 0) == 0 else { throw .io(path: path, operation: "unlink", errno: errno) }
        AtomicReplace.removeStaleTemporaries(of: name, in: dir.fd)
        try dir.fd.sync(path: path, operation: "fsync directory of")
    }

    /// Writes `new` over `old` in the open file when the change fits
    /// `InPlacePatch`. Nil when it does not fit (nothing written); false when
    /// the write failed, after putting back the old bytes of the range (a
    /// partial write of a few bytes is all but impossible).
    private func writeInPlace(_ fd: borrowing FileDescriptor, old: [UInt8], new: [UInt8]) -> Bool? {
        guard let range = InPlacePatch.range(from: old, to: new) else { return nil }
        if patch(fd, with: new, in: range) { return true }
        _ = patch(fd, with: old, in: range)
        return false
    }

    /// Writes `bytes[range]` over the same range of the open file (the rest
    /// of the file already holds the other bytes). False when the write
    /// failed or was short.
    private func patch(_ fd: borrowing FileDescriptor, with bytes: [UInt8], in range: Range<Int>) -> Bool {
        let raw = fd.raw
        while true {
            let n = bytes.withUnsafeBytes { b in
                pwrite(raw, UnsafeRawBufferPointer(rebasing: b[range]).baseAddress, range.count, off_t(range.lowerBound))
            }
            if n < 0 && errno == EINTR { continue }
            return n == range.count
        }
    }
}
