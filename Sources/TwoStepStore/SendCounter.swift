import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Where root counts the codes sent (SPEC §5): per account (`pw_name`)
/// and per number, in a place the user cannot reset. A send goes out only
/// after `admit` said yes; the count is kept whether or not the channel
/// then delivers.
public protocol SendCounter: Sendable {
    /// Records one send for `account` to `number` if `policy` allows it at
    /// `now` for both; nil when recorded, otherwise the time from which
    /// the next send may go (nothing recorded). An error means: do not send.
    func admit(account: String, number: PhoneNumber, policy: SendPolicy, at now: Int64) throws(StoreError) -> Int64?

    /// Records that `number` was confirmed for `account` through a
    /// root-owned path (what a store in the home directory needs before
    /// the module sends to it). Counters for root-owned stores only need
    /// the default, which records nothing.
    func confirm(account: String, number: PhoneNumber, at now: Int64) throws(StoreError)
}

extension SendCounter {
    public func confirm(account: String, number: PhoneNumber, at now: Int64) throws(StoreError) {}
}

/// The send tallies of a host (file and home-directory stores): a
/// directory owned by root, mode 0700, outside every store directory
/// (default `/var/lib/twostep-sends`, `send_count_dir=`), holding one
/// `SendTally` file per account (`user.NAME`) and per number
/// (`number.+E164`). Made on first use. Root only: the module (in sshd),
/// `twostep` run as root and twostepd. A directory or file that is a
/// symbolic link, not root's, or open to group or others is refused,
/// and so is a tally that does not parse: then nothing is sent.
///
/// Changes are serialised by a lock on `.lock` in the directory, taken
/// with a deadline (`lockWait`): a stuck holder makes sends fail, never
/// hang. Each tally is replaced atomically (temporary file, fsync, rename).
public struct SendCountDirectory: SendCounter {
    /// The built-in `send_count_dir=`.
    public static let defaultPath = ModuleOptions.defaultSendCountDirectory
    /// The longest wait for the directory's lock, seconds.
    public static let lockWait = 5.0
    /// Larger tallies are refused.
    static let maxSize = 64 << 10

    public let path: String

    public init(path: String = SendCountDirectory.defaultPath) {
        self.path = path
    }

    public func admit(account: String, number: PhoneNumber, policy: SendPolicy, at now: Int64) throws(StoreError) -> Int64? {
        try withLock { dir throws(StoreError) in
            var user = try read(Self.accountFile(account), in: dir)
            var phone = try read(Self.numberFile(number), in: dir)
            if let until = policy.admit(account: &user.sends, number: &phone.sends, at: now) { return until }
            try write(user, to: Self.accountFile(account), in: dir)
            try write(phone, to: Self.numberFile(number), in: dir)
            return nil
        }
    }

    /// Records that `number` was confirmed for `account` through a
    /// root-owned path (`add phone` by root or through twostepd).
    public func confirm(account: String, number: PhoneNumber, at now: Int64) throws(StoreError) {
        try withLock { dir throws(StoreError) in
            var user = try read(Self.accountFile(account), in: dir)
            guard !user.isConfirmed(number) else { return }
            user.confirm(number, at: now)
            try write(user, to: Self.accountFile(account), in: dir)
        }
    }

    /// Whether `number` was confirmed for `account` through a root-owned path.
    public func isConfirmed(account: String, number: PhoneNumber) throws(StoreError) -> Bool {
        try withLock { dir throws(StoreError) in try read(Self.accountFile(account), in: dir).isConfirmed(number) }
    }

    static func accountFile(_ account: String) -> String { "user." + account }
    static func numberFile(_ number: PhoneNumber) -> String { "number." + number.e164 }

    // MARK: I/O

    /// Opens (making it if missing) and checks the directory, takes its
    /// lock within `lockWait`, and runs `body` with the directory's fd.
    private func withLock<T>(_ body: (Int32) throws(StoreError) -> T) throws(StoreError) -> T {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .io(path: path, operation: "create", errno: errno) }
        let dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dir >= 0 else {
            if errno == ELOOP || errno == ENOTDIR { throw .unsafe(path: path, reason: "it is not a directory (a symbolic link?)") }
            throw .io(path: path, operation: "open", errno: errno)
        }
        defer { close(dir) }
        var st = stat()
        guard fstat(dir, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard st.st_uid == 0, st.st_mode & 0o077 == 0 else {
            throw .unsafe(path: path, reason: "it must be a directory owned by root with mode 0700 (it is uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        let lock = openat(dir, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw .io(path: path + "/.lock", operation: "open", errno: errno) }
        defer { close(lock) }
        try Self.lock(lock, path: path, within: Self.lockWait)
        defer { flock(lock, LOCK_UN) }
        return try body(dir)
    }

    /// An exclusive `flock` on `fd` within `seconds`, else `unavailable`.
    static func lock(_ fd: Int32, path: String, within seconds: Double) throws(StoreError) {
        var waited = 0.0
        var pause = 0.001
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw .io(path: path, operation: "lock", errno: errno) }
            guard waited < seconds else {
                throw .unavailable(path: path, reason: "its lock was held by another process for more than \(Int(seconds)) s")
            }
            var request = timespec(tv_sec: 0, tv_nsec: Int(pause * 1e9))
            nanosleep(&request, nil)
            waited += pause
            pause = min(pause * 2, 0.05)
        }
    }

    private func read(_ name: String, in dir: Int32) throws(StoreError) -> SendTally {
        let file = path + "/" + name
        let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return SendTally() }
            if errno == ELOOP { throw .unsafe(path: file, reason: "it is a symbolic link") }
            throw .io(path: file, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: file, operation: "stat", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFREG, st.st_uid == 0, st.st_mode & 0o077 == 0 else {
            throw .unsafe(path: file, reason: "it must be a regular file owned by root with mode 0600")
        }
        guard st.st_size <= Self.maxSize else { throw .unsafe(path: file, reason: "it is larger than \(Self.maxSize) bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: file, operation: "read", errno: errno)
            }
            if n == 0 { break }
            count += n
        }
        guard count <= Self.maxSize else { throw .unsafe(path: file, reason: "it is larger than \(Self.maxSize) bytes") }
        do { return try SendTally(parsing: Array(bytes[..<count])) } catch { throw .corrupt(path: file, error: error) }
    }

    private func write(_ tally: SendTally, to name: String, in dir: Int32) throws(StoreError) {
        let file = path + "/" + name
        let temp = "." + name + ".tmp"
        let bytes = Array(tally.text.utf8)
        let fd = openat(dir, temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: file, operation: "create temporary file for", errno: errno) }
        var written = 0
        var failure: (String, Int32)?
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = ("write", errno)
                break
            }
            written += n
        }
        if failure == nil, fsync(fd) != 0 { failure = ("fsync", errno) }
        if close(fd) != 0, failure == nil { failure = ("close", errno) }
        if failure == nil, renameat(dir, temp, dir, name) != 0 { failure = ("rename", errno) }
        if let failure {
            unlinkat(dir, temp, 0)
            throw .io(path: file, operation: failure.0, errno: failure.1)
        }
        _ = fsync(dir)
    }
}
