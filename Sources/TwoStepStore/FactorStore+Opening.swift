import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Opening the factor file's directory and the file, and the checks on
/// every open (SPEC §2; see `FactorStore`).
extension FactorStore {
    /// The file's directory, open, and its owner (the owner the file must have).
    struct Directory: ~Copyable {
        let fd: FileDescriptor
        let owner: uid_t
    }

    func openDirectory() throws(StoreError) -> Directory {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor(opening: directory, flags: O_RDONLY | O_DIRECTORY, path: path)
        } catch .io(_, _, let e) {
            if e == ENOENT { throw .directoryMissing(path: path) }
            if e == ENOTDIR { throw .unsafe(path: path, reason: "\(directory) is not a directory") }
            throw .io(path: path, operation: "open directory of", errno: e)
        } catch {
            throw error
        }
        let st: stat
        do { st = try fd.status(path: path) } catch .io(_, _, let e) {
            throw .io(path: path, operation: "stat directory of", errno: e)
        } catch {
            throw error
        }
        if st.st_uid != user && st.st_uid != 0 {
            throw .unsafe(path: path, reason: "its directory \(directory) is owned by uid \(st.st_uid), not by the user or root")
        }
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw .unsafe(path: path, reason: "its directory \(directory) is writable by group or others")
        }
        return Directory(fd: fd, owner: st.st_uid)
    }

    func openFile(in dir: borrowing Directory, writable: Bool) throws(StoreError) -> FileDescriptor {
        for _ in 0..<1000 {
            let fd = try openUnchecked(in: dir, writable: writable)
            let st = try fd.status(path: path)
            // No links left: a concurrent update renamed a new file over the
            // name after we opened it. Open the new one.
            if st.st_nlink == 0 { continue }
            try check(st, directoryOwner: dir.owner)
            return fd
        }
        throw .io(path: path, operation: "open (the file kept being replaced)", errno: EAGAIN)
    }

    private func openUnchecked(in dir: borrowing Directory, writable: Bool) throws(StoreError) -> FileDescriptor {
        let flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
        do {
            return try FileDescriptor(opening: name, relativeTo: dir.fd.raw, flags: flags, path: path)
        } catch .io(_, _, let e) {
            switch e {
            case ENOENT: throw .notEnrolled(path: path)
            case ELOOP: throw .unsafe(path: path, reason: "it is a symbolic link")
            case EISDIR: throw .unsafe(path: path, reason: "it is a directory")
            default: throw .io(path: path, operation: "open", errno: e)
            }
        } catch {
            throw error
        }
    }

    /// What the factor file must be: `FileRules` with the directory's owner,
    /// no group or other permission bits, one link, at most `maxSize` bytes.
    func check(_ st: stat, directoryOwner: uid_t) throws(StoreError) {
        let rules = FileRules(owner: directoryOwner, forbiddenMode: mode_t(S_IRWXG | S_IRWXO), maxSize: Self.maxSize, singleLink: true)
        guard let violation = rules.violation(st) else { return }
        let reason = switch violation {
        case .notRegular: "it is not a regular file"
        case .owner(let uid): "it is owned by uid \(uid), not by the owner of its directory (uid \(directoryOwner))"
        case .mode(let mode): "group or others may access it (mode \(String(mode & 0o777, radix: 8))); it must be 600)"
        case .links(let n): "it has \(n) hard links"
        case .tooLarge, .tooSmall: "it is larger than \(Self.maxSize) bytes"
        }
        throw .unsafe(path: path, reason: reason)
    }

    /// Opens the file read-write and takes the exclusive lock. When the name
    /// was replaced while we waited, the lock is on a dead inode: open again.
    func openLocked(in dir: borrowing Directory) throws(StoreError) -> FileDescriptor {
        for _ in 0..<1000 {
            // Checked only once locked and known current: until then the
            // file may be a replaced (unlinked) one.
            let fd = try openUnchecked(in: dir, writable: true)
            try fd.lock(.exclusive, wait: lockWait, path: path)
            var held = stat(), current = stat()
            if fstat(fd.raw, &held) == 0, fstatat(dir.fd.raw, name, &current, AT_SYMLINK_NOFOLLOW) == 0,
               held.st_dev == current.st_dev, held.st_ino == current.st_ino {
                try check(held, directoryOwner: dir.owner)
                return fd
            }
        }
        throw .io(path: path, operation: "lock (the file kept being replaced)", errno: EAGAIN)
    }

    /// The whole file, read under the caller's lock (`FileDescriptor.readAll`):
    /// `size` is what the caller's `fstat` under the lock gave, else one is
    /// made. The caller cleanses the result.
    func readBytes(_ fd: borrowing FileDescriptor, size: off_t? = nil) throws(StoreError) -> [UInt8] {
        let secret = try readAll(fd, size: size)
        return secret.withUnsafeBytes { [UInt8]($0) }
    }

    /// Like `readBytes`, in a `SecretBytes`.
    func readAll(_ fd: borrowing FileDescriptor, size: off_t? = nil) throws(StoreError) -> SecretBytes {
        var expected: off_t
        if let size { expected = size } else { expected = try fd.status(path: path).st_size }
        return try fd.readAll(expectedSize: Int(expected), maxSize: Self.maxSize, path: path)
    }

    /// A temporary file renamed over the old one; with `sync` (`.durable`)
    /// the temporary file is fsynced before the rename, old leftovers
    /// removed and the directory fsynced after it.
    func replace(in dir: borrowing Directory, with bytes: [UInt8], sync: Bool = true) throws(StoreError) {
        try AtomicReplace(syncFile: sync, syncDirectory: false).replace(name, in: dir.fd, with: bytes, path: path)
        if sync {
            // A writer killed between creating its temporary file and the
            // rename leaves `.NAME.RANDOM.tmp`, holding the secrets of that
            // moment; `create` takes no lock, so only old ones go.
            AtomicReplace.removeStaleTemporaries(of: name, in: dir.fd)
            try dir.fd.sync(path: path, operation: "fsync directory of")
        }
    }
}
