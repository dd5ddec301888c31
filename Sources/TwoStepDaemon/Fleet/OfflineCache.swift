import Logging
import NIOCore
import NIOPosix
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
///
/// The files are `OfflineCopies` and `OfflineJournal` (TwoStepStore); this
/// type is the `RecordBackend` that decides when each is used, and runs the
/// merge every few seconds on an event loop (the work itself on NIO's
/// thread pool: it blocks on the database).
final class OfflineCache: RecordBackend, @unchecked Sendable {
    let database: PostgresRecordBackend
    let directory: String
    let maxAge: Int64
    let policy: VerificationPolicy
    let logger: Logger
    let copies: OfflineCopies
    let journal: OfflineJournal
    /// The merge every few seconds; cancelled when the cache goes.
    private let mergeTask = Mutex<RepeatedTask?>(nil)
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
        copies = OfflineCopies(directory: directory)
        journal = OfflineJournal(directory: directory)
        try Self.prepare(copies)
        pending.store(journal.hasEntries, ordering: .relaxed)
        scheduleMerge()
    }

    deinit {
        mergeTask.withLock { $0?.cancel() }
    }


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
            guard let copy = lock.withLock({ _ in copies.read(user) }) else {
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
        if case .stored = try storeOrRead(user: user, text: text, replacing: version) { return true }
        return false
    }

    /// Online, the database's answer, the copy kept as it says (the record
    /// stored, or the one a lost store read); offline, the copy's own
    /// compare-and-set. With journal entries not yet merged a lost store
    /// says only `.notStored`: the fetch that follows merges them first,
    /// so a step accepted offline here is in the record decided on.
    func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome {
        guard let version, version < 0 else {
            let outcome = try database.storeOrRead(user: user, text: text, replacing: version)
            switch outcome {
            case .stored:
                remember(user, StoredRecord(text: SecretBytes(text), version: (version ?? 0) + 1))
                return .stored
            case .superseded(let now):
                remember(user, now)
                return pending.load(ordering: .relaxed) ? .notStored : outcome
            case .notStored:
                return .notStored
            }
        }
        return try storeOffline(user: user, text: text, local: -version) ? .stored : .notStored
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
            guard let copy = copies.read(user) else { return .failure(.unavailable(path: path, reason: "no copy of the record on this host")) }
            guard copy.local == local else { return .success(false) }
            let old: FactorFile, new: FactorFile
            do throws(StoreError) {
                old = try FactorFile(stored: copy.text, location: path)
                new = try FactorFile(stored: text, location: path)
            } catch {
                return .failure(.unsafe(path: path, reason: "offline: a record that does not parse"))
            }
            let now = Clock.now
            guard let change = OfflineChange(from: old, to: new, at: now) else {
                return .failure(.unavailable(path: path, reason: "the database is unreachable: offline, only authenticator codes are accepted (no backup code, sent code, trusted device or other change)"))
            }
            do throws(StoreError) {
                try journal.append(OfflineJournal.Entry(user: user, change: change))
                try copies.write(user, .init(text: SecretBytes(text), version: copy.version, fetched: copy.fetched, local: local + 1), durable: true)
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

    /// Every 3 s, on an event loop, `mergeIfPending` on NIO's thread pool;
    /// the next run is scheduled once the last one is done.
    private func scheduleMerge() {
        let loop = NIOSingletons.posixEventLoopGroup.any()
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: .seconds(3), delay: .seconds(3)) { [weak self] task in
            guard let self else {
                task.cancel()
                return loop.makeSucceededVoidFuture()
            }
            return NIOThreadPool.singleton.runIfActive(eventLoop: loop) { self.mergeIfPending() }
        }
        mergeTask.withLock { $0 = task }
    }

    /// Merges the journal into the database when there is one and the
    /// database answers; on failure the journal stays for the next try.
    func mergeIfPending() {
        guard pending.load(ordering: .relaxed) else { return }
        lock.withLock { _ in
            guard pending.load(ordering: .relaxed) else { return }
            let done = journal.merge(into: database, policy: policy) { event in
                switch event {
                case .unparsable:
                    logger.error("offline journal: an entry that does not parse was skipped")
                case .usedElsewhere(let user, let id, let step):
                    logger.warning("offline: step \(step) of \(user)'s \(id), accepted on this host while the database was unreachable, was used (or a later one) on another host too")
                case .noRecord(let user):
                    logger.notice("offline journal: \(user) has no record any more; entry dropped")
                case .dropped(let user, let error):
                    logger.error("offline journal: \(user): \(error); entry dropped")
                case .merged(let entries):
                    logger.notice("offline journal merged into the database", metadata: ["entries": "\(entries)"])
                }
            }
            if done { pending.store(false, ordering: .relaxed) }
        }
    }

    // MARK: Files

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
            if onlyExisting && !copies.exists(user) { return }
            do {
                try copies.write(user, .init(text: stored.text, version: stored.version, fetched: Clock.now, local: 1), durable: false)
                copied.withLock { $0[user] = stored.version }
            } catch {
                logger.error("cannot keep a copy of \(user)'s record: \(error)")
            }
        }
    }

    private func forget(_ user: String) {
        lock.withLock { _ in
            if copies.remove(user) { logger.info("\(user) has no record in the database: this host's copy removed") }
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

    /// The cache directory: created 0700 when missing; it must be root's,
    /// a directory (not a link), with no access for group or others.
    static func prepare(_ copies: OfflineCopies) throws {
        do {
            try copies.prepare()
        } catch .io(_, _, let e) {
            throw DaemonError.configuration(path: copies.directory, message: "cannot create the cache directory: \(String(cString: strerror(e)))")
        } catch {
            throw DaemonError.configuration(path: copies.directory, message: "the cache directory must be a directory (not a link) owned by root, mode 0700")
        }
    }
}
