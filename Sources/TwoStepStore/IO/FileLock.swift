import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// How long a lock is waited for.
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

/// `flock(2)` kinds.
public enum LockKind: Sendable {
    /// `LOCK_SH`: readers.
    case shared
    /// `LOCK_EX`: one writer.
    case exclusive

    var operation: Int32 { self == .shared ? LOCK_SH : LOCK_EX }
}

extension FileDescriptor {
    /// Takes a `flock` of `kind` on the open file as `wait` says: with
    /// `.within`, by `LOCK_NB` tries with a growing pause (1 ms doubling to
    /// 50 ms) until the deadline, never giving up before it; a signal cuts a
    /// pause short, never the deadline. With `.untilAcquired`, one blocking `flock`, retried on
    /// `EINTR`. `flock` locks belong to the open file: another descriptor
    /// of the same file, in this process or another, conflicts.
    /// - Throws: `StoreError.busy(path:, seconds:)` at the deadline;
    ///   `.io(path:, operation: "lock", errno:)` when `flock` fails.
    public borrowing func lock(_ kind: LockKind, wait: LockWait, path: String) throws(StoreError) {
        guard case .within(let milliseconds) = wait else {
            while flock(raw, kind.operation) != 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "lock", errno: errno)
            }
            return
        }
        // In nanoseconds: `busy` comes no sooner than the whole wait.
        let deadline = Self.monotonicNanoseconds() + Int64(milliseconds) * 1_000_000
        var pause: Int64 = 1_000_000
        while flock(raw, kind.operation | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            guard e == EWOULDBLOCK else { throw .io(path: path, operation: "lock", errno: e) }
            let left = deadline - Self.monotonicNanoseconds()
            guard left > 0 else { throw .busy(path: path, seconds: (milliseconds + 999) / 1000) }
            // A signal may cut the pause short: the loop tries again, the deadline holds.
            let nap = min(pause, left)
            var pauseTime = timespec(tv_sec: Int(nap / 1_000_000_000), tv_nsec: Int(nap % 1_000_000_000))
            nanosleep(&pauseTime, nil)
            pause = min(pause * 2, 50_000_000)
        }
    }

    /// Releases this descriptor's `flock` (closing it does too).
    public borrowing func unlock() {
        flock(raw, LOCK_UN)
    }

    private static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// An exclusive lock on a lock file (`.lock` of the send tallies, `lock` of
/// `twostep setup`'s state), held from `init` until the value goes.
public struct FileLock: ~Copyable {
    /// The lock file, open and locked.
    public let descriptor: FileDescriptor

    /// Opens (creating it, 0600, not through a symbolic link) `name` in
    /// `directory` and takes an exclusive lock within `wait`.
    /// - Throws: `StoreError.busy` at the deadline; `.io` (open, lock).
    public init(_ name: String, in directory: borrowing FileDescriptor, wait: LockWait, path: String) throws(StoreError) {
        try self.init(name, relativeTo: directory.raw, wait: wait, path: path)
    }

    /// Like `init(_:in:wait:path:)` for an absolute `path`.
    public init(path: String, wait: LockWait) throws(StoreError) {
        try self.init(path, relativeTo: AT_FDCWD, wait: wait, path: path)
    }

    private init(_ name: String, relativeTo directory: Int32, wait: LockWait, path: String) throws(StoreError) {
        let fd = try FileDescriptor(opening: name, relativeTo: directory, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600, path: path)
        try fd.lock(.exclusive, wait: wait, path: path)
        descriptor = fd
    }

    deinit {
        descriptor.unlock()
    }

}
