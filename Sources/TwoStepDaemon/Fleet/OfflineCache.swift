import Dispatch
import Logging
import Synchronization
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// `offline=cached` (SPEC §9): the Login interface's backend when logins
/// may be decided from this host's last copy of a record while the
/// database is unreachable.
///
/// - Online, every record fetched or stored is copied to `DIR/HEX(user)`
///   (root, 0600) with its database version and the time it was known
///   current.
/// - When the database does not answer (`StoreError.unavailable`), a copy
///   younger than `maxAge` is returned, marked offline, with a negative
///   version of its own. A store against such a version is checked by
///   `OfflineChange` (authenticator steps and failures only; anything else
///   is refused), compared-and-set on the copy (each step at most once on
///   this host), and journalled in `DIR/journal` (fsynced) before it is
///   acknowledged.
/// - When the database says there is no record, the copy is removed,
///   whether or not this process wrote it (a copy left by an earlier run,
///   before a `twostep reset`, must not outlive the record).
/// - io.twostep.Manage goes through `online`: every record it reads or
///   writes refreshes the copy, and one it removes is unlinked; it never
///   decides from the copy.
/// - When the database answers again, the journal is merged into it
///   (highest step wins, failures add up), before the next fetch and every
///   few seconds; a step the database already had is logged as used on
///   another host too.
final class OfflineCache: RecordBackend, @unchecked Sendable {
    let database: PostgresRecordBackend
    let directory: String
    let maxAge: Int64
    let policy: VerificationPolicy
    let logger: Logger
    /// Serialises every read-modify-write of the copies and the journal.
    private let lock = Mutex<Void>(())
    /// The database version of each user's copy, as written by this process.
    private let copied = Mutex<[String: Int64]>([:])
    private let pending = Atomic<Bool>(false)

    var name: String { database.name }

    init(database: PostgresRecordBackend, directory: String, maxAge: Int64, policy: VerificationPolicy, logger: Logger) throws {
        self.database = database
        self.directory = directory
        self.maxAge = maxAge
        self.policy = policy
        self.logger = logger
        try Self.prepare(directory)
        var st = stat()
        pending.store(lstat(journalPath, &st) == 0 && st.st_size > 0, ordering: .relaxed)
        scheduleMerge()
    }

    private var journalPath: String { directory + "/journal" }

    // MARK: RecordBackend

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        do {
            var stored = try database.fetch(user: user)
            if pending.load(ordering: .relaxed) {
                // The database answers again: the journal first, so the
                // record returned includes what was decided offline.
                mergeIfPending()
                stored = try database.fetch(user: user)
            }
            remember(user, stored)
            return stored
        } catch .unavailable(let path, let reason) {
            guard let copy = lock.withLock({ _ in read(user) }) else {
                throw .unavailable(path: path, reason: reason + "; no copy of the record on this host (offline=cached)")
            }
            let age = Clock.now - copy.fetched
            guard age <= maxAge else {
                throw .unavailable(path: path, reason: reason + "; this host's copy is \(age) s old, older than offline_max_age=\(maxAge)")
            }
            logger.notice("database unreachable: \(user)'s record from this host's copy (\(age) s old)", metadata: ["reason": "\(reason)"])
            return StoredRecord(text: copy.text, version: -copy.local, offline: true)
        }
    }

    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        guard let version, version < 0 else {
            let stored = try database.store(user: user, text: text, replacing: version)
            if stored { remember(user, StoredRecord(text: SecretBytes(text), version: (version ?? 0) + 1)) }
            return stored
        }
        return try storeOffline(user: user, text: text, local: -version)
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool {
        guard version > 0 else { throw .unavailable(path: "\(name): \(user)", reason: "the database is unreachable: nothing can be removed offline") }
        let deleted = try database.delete(user: user, version: version)
        if deleted { forget(user) }
        return deleted
    }

    // MARK: Offline

    private func storeOffline(user: String, text: [UInt8], local: Int64) throws(StoreError) -> Bool {
        let path = "\(name): \(user)"
        let outcome: Result<Bool, StoreError> = lock.withLock { _ in
            guard let copy = read(user) else { return .failure(.unavailable(path: path, reason: "no copy of the record on this host")) }
            guard copy.local == local else { return .success(false) }
            let old: FactorFile, new: FactorFile
            do {
                old = try copy.text.withUnsafeBytes { try FactorFile(parsing: [UInt8]($0)) }
                new = try FactorFile(parsing: text)
            } catch {
                return .failure(.unsafe(path: path, reason: "offline: a record that does not parse"))
            }
            let now = Clock.now
            guard let change = OfflineChange(from: old, to: new, at: now) else {
                return .failure(.unavailable(path: path, reason: "the database is unreachable: offline, only authenticator codes are accepted (no backup code, sent code, trusted device or other change)"))
            }
            do throws(StoreError) {
                try appendJournal(user: user, change: change)
                try write(user, text: text, version: copy.version, fetched: copy.fetched, local: local + 1)
            } catch {
                return .failure(error)
            }
            pending.store(true, ordering: .relaxed)
            let what = change.accepted != nil ? "code accepted" : "wrong code"
            logger.notice("offline: \(what) for \(user), journalled", metadata: ["steps": "\(change.steps.values.sorted())"])
            return .success(true)
        }
        return try outcome.get()
    }

    // MARK: Merging the journal

    private func scheduleMerge() {
        DispatchQueue.global().asyncAfter(deadline: .now() + 3) { [weak self] in
            guard let self else { return }
            self.mergeIfPending()
            self.scheduleMerge()
        }
    }

    /// Merges the journal into the database when there is one and the
    /// database answers; on failure the journal stays for the next try.
    func mergeIfPending() {
        guard pending.load(ordering: .relaxed) else { return }
        lock.withLock { _ in
            guard pending.load(ordering: .relaxed) else { return }
            guard let bytes = try? readFile(journalPath), !bytes.isEmpty else {
                pending.store(false, ordering: .relaxed)
                return
            }
            let lines = bytes.split(separator: 10)
            var merged = 0
            for line in lines {
                guard let (user, change) = Self.parse(line) else {
                    logger.error("offline journal: an entry that does not parse was skipped")
                    merged += 1
                    continue
                }
                let store = VersionedRecordStore(backend: database, user: user)
                do {
                    let conflicts = try store.update { file in change.merge(into: &file, policy: policy) }
                    for id in conflicts {
                        logger.warning("offline: step \(change.steps[id] ?? 0) of \(user)'s \(id), accepted on this host while the database was unreachable, was used (or a later one) on another host too")
                    }
                } catch StoreError.notEnrolled {
                    logger.notice("offline journal: \(user) has no record any more; entry dropped")
                } catch StoreError.unavailable {
                    break
                } catch {
                    logger.error("offline journal: \(user): \(error); entry dropped")
                }
                merged += 1
            }
            if merged == lines.count {
                unlink(journalPath)
                pending.store(false, ordering: .relaxed)
                logger.notice("offline journal merged into the database", metadata: ["entries": "\(merged)"])
            } else if merged > 0 {
                // What is left, for the next try (an entry merged twice after a crash here only counts its failures twice).
                var rest = Array(lines[merged...].joined(separator: [10]))
                rest.append(10)
                try? writeFile(journalPath, rest, sync: true)
            }
        }
    }

    // MARK: Files

    private struct Copy {
        var text: SecretBytes
        var version: Int64
        var fetched: Int64
        var local: Int64
    }

    private func copyPath(_ user: String) -> String { directory + "/" + Hex.encode(Array(user.utf8)) }

    /// Keeps `stored` as `user`'s copy; nil removes the copy. With
    /// `onlyExisting`, a record replaces a copy this host has and makes
    /// none where it has none (io.twostep.Manage: a host keeps copies of
    /// the users who log in on it, not of every user a command looks at).
    private func remember(_ user: String, _ stored: StoredRecord?, onlyExisting: Bool = false) {
        guard let stored else {
            // Not only when this process copied it: a copy from before a restart counts too.
            forget(user)
            return
        }
        if copied.withLock({ $0[user] }) == stored.version {
            return
        }
        lock.withLock { _ in
            if onlyExisting && access(copyPath(user), F_OK) != 0 { return }
            var bytes = stored.text.withUnsafeBytes { [UInt8]($0) }
            defer { cleanse(&bytes) }
            do {
                try write(user, text: bytes, version: stored.version, fetched: Clock.now, local: 1)
                copied.withLock { $0[user] = stored.version }
            } catch {
                logger.error("cannot keep a copy of \(user)'s record: \(error)")
            }
        }
    }

    private func forget(_ user: String) {
        lock.withLock { _ in
            if unlink(copyPath(user)) == 0 { logger.info("\(user) has no record in the database: this host's copy removed") }
            copied.withLock { $0[user] = nil }
        }
    }

    /// The database through this cache, never from the copy: what
    /// io.twostep.Manage uses, so that every change made there (a reset, a
    /// removed authenticator) reaches this host's copy at once.
    var online: Online { Online(cache: self) }

    /// `RecordBackend` for io.twostep.Manage in `offline=cached`: reads and
    /// writes the database as `PostgresRecordBackend` does (an unreachable
    /// database is `unavailable`, never the copy), and refreshes this
    /// host's copy, if it has one, with what the database said: a record
    /// fetched or stored replaces it, none (or one deleted) removes it.
    struct Online: RecordBackend {
        let cache: OfflineCache
        var name: String { cache.name }

        func fetch(user: String) throws(StoreError) -> StoredRecord? {
            let stored = try cache.database.fetch(user: user)
            cache.remember(user, stored, onlyExisting: true)
            return stored
        }

        func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
            let stored = try cache.database.store(user: user, text: text, replacing: version)
            if stored {
                cache.remember(user, StoredRecord(text: SecretBytes(text), version: (version ?? 0) + 1), onlyExisting: true)
            }
            return stored
        }

        func delete(user: String, version: Int64) throws(StoreError) -> Bool {
            let deleted = try cache.database.delete(user: user, version: version)
            if deleted { cache.forget(user) }
            return deleted
        }
    }

    /// Header line `twostep-copy 1 VERSION FETCHED LOCAL`, then the record text.
    private func write(_ user: String, text: [UInt8], version: Int64, fetched: Int64, local: Int64) throws(StoreError) {
        var bytes = Array("twostep-copy 1 \(version) \(fetched) \(local)\n".utf8) + text
        defer { cleanse(&bytes) }
        try writeFile(copyPath(user), bytes, sync: false)
    }

    private func read(_ user: String) -> Copy? {
        guard var bytes = try? readFile(copyPath(user)) else { return nil }
        defer { cleanse(&bytes) }
        guard let newline = bytes.firstIndex(of: 10) else { return nil }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == "twostep-copy", fields[1] == "1",
              let version = Int64(fields[2]), let fetched = Int64(fields[3]), let local = Int64(fields[4]), local > 0 else { return nil }
        return Copy(text: SecretBytes(bytes[(newline + 1)...]), version: version, fetched: fetched, local: local)
    }

    /// `v1 HEX(user) TIME FAILURES ACCEPTED|- id:step,…|-`
    private func appendJournal(user: String, change: OfflineChange) throws(StoreError) {
        let steps = change.steps.isEmpty ? "-" : change.steps.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        let line = Array("v1 \(Hex.encode(Array(user.utf8))) \(change.time) \(change.failures) \(change.accepted.map(String.init) ?? "-") \(steps)\n".utf8)
        let fd = open(journalPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .io(path: journalPath, operation: "open", errno: errno) }
        defer { close(fd) }
        let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == line.count, fsync(fd) == 0 else { throw .io(path: journalPath, operation: "write", errno: errno) }
    }

    static func parse(_ line: ArraySlice<UInt8>) -> (String, OfflineChange)? {
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
        return (user, change)
    }

    private func readFile(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        defer { cleanse(&chunk) }
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw .io(path: path, operation: "read", errno: errno) }
            if n == 0 { return out }
            out += chunk[..<n]
            guard out.count <= 4 << 20 else { throw .unsafe(path: path, reason: "larger than 4 MiB") }
        }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8], sync: Bool) throws(StoreError) {
        let temp = path + ".tmp"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .io(path: temp, operation: "open", errno: errno) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = !sync || fsync(fd) == 0
        close(fd)
        guard n == bytes.count, synced, rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw .io(path: path, operation: "write", errno: e)
        }
    }

    /// The cache directory: created 0700 when missing; it must be root's,
    /// a directory (not a link), with no access for group or others.
    static func prepare(_ directory: String) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw DaemonError.configuration(path: directory, message: "cannot create the cache directory: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == 0, st.st_mode & 0o077 == 0 else {
            throw DaemonError.configuration(path: directory, message: "the cache directory must be a directory (not a link) owned by root, mode 0700")
        }
    }
}
