import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// twostepd's journal of what logins decided from this host's copies while
/// the database was unreachable (`offline=cached`, SPEC §9): `DIR/journal`,
/// one line per change, appended and fsynced before the login is answered,
/// merged into the database once it answers again.
///
/// A line is `v1 HEX(user) TIME FAILURES ACCEPTED|- id:step,…|-`: the user
/// in hex (any name fits on a line), the time of the change, the wrong
/// codes given, when a code was accepted, the TOTP steps accepted by
/// authenticator id.
public struct OfflineJournal: Sendable {
    /// `DIR/journal`.
    public let path: String
    /// Larger journals are refused unread (a database down for weeks on a
    /// busy host).
    public static let maxSize = 4 << 20

    /// The journal of the cache directory `directory`.
    public init(directory: String) {
        path = directory + "/journal"
    }

    /// One change decided offline.
    public struct Entry: Sendable, Equatable {
        /// Whose record it changed.
        public var user: String
        /// What it changed.
        public var change: OfflineChange

        /// An entry of `user`'s `change`.
        public init(user: String, change: OfflineChange) {
            self.user = user
            self.change = change
        }
    }

    /// The line of `entry`, with its line end.
    public static func line(_ entry: Entry) -> [UInt8] {
        let change = entry.change
        let steps = change.steps.isEmpty ? "-" : change.steps.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        return Array("v1 \(Hex.encode(Array(entry.user.utf8))) \(change.time) \(change.failures) \(change.accepted.map(String.init) ?? "-") \(steps)\n".utf8)
    }

    /// The entry a line holds (without its line end); nil when it does not parse.
    public static func parse(_ line: ArraySlice<UInt8>) -> Entry? {
        let f = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard f.count == 6, f[0] == "v1", let name = Hex.decode(String(f[1])), let user = String(validating: name, as: UTF8.self),
              let time = Int64(f[2]), let failures = Int(f[3]), failures >= 0 else { return nil }
        var change = OfflineChange(failures: failures, accepted: f[4] == "-" ? nil : Int64(f[4]), time: time)
        if f[5] != "-" {
            for pair in f[5].split(separator: ",") {
                let kv = pair.split(separator: ":")
                guard kv.count == 2, let step = UInt64(kv[1]) else { return nil }
                change.steps[String(kv[0])] = step
            }
        }
        return Entry(user: user, change: change)
    }

    /// True when the journal holds something to merge.
    public var hasEntries: Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_size > 0
    }

    /// Appends `entry` and fsyncs it (and the directory, when this made the
    /// journal): once this returns, the change survives a crash.
    /// - Throws: `StoreError.io`; nothing may be acknowledged then.
    public func append(_ entry: Entry) throws(StoreError) {
        let line = Self.line(entry)
        let fd = try FileDescriptor(opening: path, flags: O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, mode: 0o600)
        let created = try fd.status(path: path).st_size == 0
        var written = 0
        while written < line.count {
            let n = line.withUnsafeBytes { write(fd.raw, $0.baseAddress.map { $0 + written }, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            written += n
        }
        try fd.sync(path: path, operation: "write")
        if created {
            let directory = try FileDescriptor(opening: AtomicReplace.split(path).directory, flags: O_RDONLY | O_DIRECTORY, path: path)
            try directory.sync(path: path, operation: "fsync directory of")
        }
    }

    /// What `merge` met, for the log.
    public enum MergeEvent: Sendable, Equatable {
        /// A line that does not parse, skipped (and dropped).
        case unparsable
        /// `user`'s authenticator `factor` accepted `step` here while the
        /// database was unreachable, and that step (or a later one) was
        /// used on another host too.
        case usedElsewhere(user: String, factor: String, step: UInt64)
        /// `user` has no record any more: the entry was dropped.
        case noRecord(user: String)
        /// Merging `user`'s entry failed with `error`: dropped.
        case dropped(user: String, error: StoreError)
        /// The whole journal was merged: `entries` lines.
        case merged(entries: Int)
    }

    /// Merges the journal into `backend` (highest step wins, failures add
    /// up: `OfflineChange.merge`), in order. When the backend is
    /// unavailable, merging stops and what is left stays for the next try
    /// (replaced durably); a merged journal is removed. True when nothing
    /// is left to merge (also for a journal that is missing or unreadable).
    /// An entry merged again after a crash between its merge and the
    /// journal's rewrite only counts its failures twice.
    public func merge<Backend: RecordBackend>(into backend: Backend, policy: VerificationPolicy,
                                              report: (MergeEvent) -> Void) -> Bool {
        guard let text = try? SafeFile.read(path, rules: FileRules(owner: geteuid(), forbiddenMode: 0o077, maxSize: Self.maxSize)),
              text.count > 0 else { return true }
        var bytes = text.withUnsafeBytes { [UInt8]($0) }
        defer { cleanse(&bytes) }
        let lines = bytes.split(separator: 10)
        var merged = 0
        for line in lines {
            guard let entry = Self.parse(line) else {
                report(.unparsable)
                merged += 1
                continue
            }
            let store = VersionedRecordStore(backend: backend, user: entry.user)
            do {
                let conflicts = try store.update { file in entry.change.merge(into: &file, policy: policy) }
                for id in conflicts { report(.usedElsewhere(user: entry.user, factor: id, step: entry.change.steps[id] ?? 0)) }
            } catch StoreError.notEnrolled {
                report(.noRecord(user: entry.user))
            } catch StoreError.unavailable {
                break
            } catch {
                report(.dropped(user: entry.user, error: error as? StoreError ?? .unavailable(path: path, reason: "\(error)")))
            }
            merged += 1
        }
        if merged == lines.count {
            unlink(path)
            report(.merged(entries: merged))
            return true
        }
        if merged > 0 {
            var rest = Array(lines[merged...].joined(separator: [10]))
            rest.append(10)
            try? AtomicReplace().replace(path: path, with: rest)
        }
        return false
    }
}
