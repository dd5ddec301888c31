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
    /// Records nothing (a counter for root-owned stores).
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
/// with a deadline (`lockWait`, then `StoreError.busy`): a stuck holder
/// makes sends fail, never hang. Each tally is replaced atomically
/// (`AtomicReplace`: temporary file, fsync, rename, directory fsync).
public struct SendCountDirectory: SendCounter {
    /// The built-in `send_count_dir=`.
    public static let defaultPath = ModuleOptions.defaultSendCountDirectory
    /// The longest wait for the directory's lock, seconds.
    public static let lockWait = 5.0
    /// Larger tallies are refused.
    static let maxSize = 64 << 10

    /// The directory.
    public let path: String

    /// The tallies in `path` (made on first use).
    public init(path: String = SendCountDirectory.defaultPath) {
        self.path = path
    }

    /// Records one send under the directory's lock if `policy` allows it (see `SendCounter.admit`).
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

    /// Opens (making it if missing) and checks the directory
    /// (`PrivateDirectory`), takes its lock within `lockWait` (else
    /// `StoreError.busy`), and runs `body` with the directory.
    private func withLock<T>(_ body: (borrowing FileDescriptor) throws(StoreError) -> T) throws(StoreError) -> T {
        let dir = try PrivateDirectory.open(path)
        let lock = try FileLock(".lock", in: dir, wait: .within(milliseconds: Int(Self.lockWait * 1000)), path: path + "/.lock")
        let result = try body(dir)
        _ = consume lock
        return result
    }

    private func read(_ name: String, in dir: borrowing FileDescriptor) throws(StoreError) -> SendTally {
        let file = path + "/" + name
        var bytes: [UInt8]
        do {
            let text = try SafeFile.read(name, relativeTo: dir.raw, rules: FileRules(owner: 0, forbiddenMode: 0o077, maxSize: Self.maxSize), path: file)
            bytes = text.withUnsafeBytes { [UInt8]($0) }
        } catch .io(_, "open", ENOENT) {
            return SendTally()
        } catch .unsafe(_, let reason) where reason != "it is a symbolic link" && !reason.hasPrefix("it is larger") {
            throw .unsafe(path: file, reason: "it must be a regular file owned by root with mode 0600")
        }
        defer { cleanse(&bytes) }
        do { return try SendTally(parsing: bytes) } catch { throw .corrupt(path: file, error: error) }
    }

    private func write(_ tally: SendTally, to name: String, in dir: borrowing FileDescriptor) throws(StoreError) {
        try AtomicReplace().replace(name, in: dir, with: Array(tally.text.utf8), path: path + "/" + name)
    }
}
