import TwoStepCore

/// A record's text as a versioned store holds it, with the version that
/// text has there. The text is a secret: it is zeroed when released.
public struct StoredRecord: Sendable {
    /// The factor-file text (SPEC §2), exactly as stored.
    public let text: SecretBytes
    /// Bumped by every store of the record; `store(replacing:)` succeeds only
    /// while it is unchanged.
    public let version: Int64
    /// True when the record is twostepd's cached copy, the database being
    /// unreachable (`offline=cached`, SPEC §9).
    public let offline: Bool

    /// A record's `text` at `version`.
    public init(text: SecretBytes, version: Int64, offline: Bool = false) {
        self.text = text
        self.version = version
        self.offline = offline
    }
}

/// Where versioned records live: a table row per user in PostgreSQL
/// (twostepd), or twostepd's `io.twostep.Login` (the module). Three
/// operations, each atomic on its own; `VersionedRecordStore` builds every
/// `RecordStore` change from them as a compare-and-set, so a change is in
/// force only once the backend has committed it.
public protocol RecordBackend: Sendable {
    /// For messages: `twostepd`, `postgresql`.
    var name: String { get }
    /// The user's record, nil when there is none.
    func fetch(user: String) throws(StoreError) -> StoredRecord?
    /// Stores `text` if the record's version is still `version` (nil: if
    /// there is no record yet). False when it is not: nothing was stored.
    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool
    /// Removes the record if its version is still `version`; false otherwise.
    func delete(user: String, version: Int64) throws(StoreError) -> Bool
    /// `store`, and when nothing was stored, the record as it is now if
    /// the backend read it in the same transaction (`StoreOutcome`). The
    /// default is `store` alone (`.notStored`: fetch again).
    func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome
}

extension RecordBackend {
    public func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome {
        try store(user: user, text: text, replacing: version) ? .stored : .notStored
    }
}

/// `RecordStore` on a `RecordBackend`: read, decide, compare-and-set; when
/// another writer (another host) changed the record between the read and
/// the store, the body runs again on the newer record. A TOTP step, a
/// backup code or a failure is thus counted exactly once however many
/// hosts race, and only after the backend committed it.
public struct VersionedRecordStore<Backend: RecordBackend>: RecordStore {
    /// Where the record lives.
    public let backend: Backend
    /// Whose record it is.
    public let user: String
    /// Rounds of read-decide-store before giving up (`contended`). Each
    /// lost round means another writer's change was committed, so with N
    /// hosts racing on one record, N rounds are always enough.
    public static var attempts: Int { 64 }

    /// `user`'s record in `backend`.
    public init(backend: Backend, user: String) {
        self.backend = backend
        self.user = user
    }

    /// `BACKEND: USER`, for messages.
    public var location: String { "\(backend.name): \(user)" }

    /// A record as one fetch saw it, with its version (for the compare-and-set).
    public struct Snapshot: RecordSnapshot {
        /// The parsed record.
        public let file: FactorFile
        /// Its version in the backend (negative: twostepd's offline copy).
        public let version: Int64
        /// True for twostepd's cached copy (`offline=cached`).
        public let offline: Bool
    }

    /// Fetches and parses the record (`FactorFile(stored:location:)`).
    public func readSnapshot() throws(StoreError) -> Snapshot {
        guard let stored = try backend.fetch(user: user) else { throw .notEnrolled(path: location) }
        return Snapshot(file: try parse(stored.text), version: stored.version, offline: stored.offline)
    }

    /// True when the backend has a record for the user.
    public func exists() throws(StoreError) -> Bool {
        try backend.fetch(user: user) != nil
    }

    /// Read, decide, compare-and-set; the body runs again when another writer won.
    public func update<T>(from snapshot: Snapshot?, durability: (T) -> FactorStore.Durability,
                          _ body: (inout FactorFile) throws -> T) throws -> T {
        var current = snapshot
        for _ in 0..<Self.attempts {
            let seen = try current ?? readSnapshot()
            var new = seen.file
            let result = try body(&new)
            let text = new.text
            if text == seen.file.text { return result }
            var bytes = Array(text.utf8)
            defer { cleanse(&bytes) }
            switch try backend.storeOrRead(user: user, text: bytes, replacing: seen.version) {
            case .stored:
                return result
            case .superseded(let now?):
                // Decided again on the record the lost store read: no fetch.
                current = Snapshot(file: try parse(now.text), version: now.version, offline: now.offline)
            case .superseded(nil):
                throw StoreError.notEnrolled(path: location)
            case .notStored:
                current = nil
            }
        }
        throw StoreError.contended(path: location)
    }

    /// Stores a first record; `alreadyExists` when there is one.
    public func create(_ file: FactorFile) throws(StoreError) {
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        guard try backend.store(user: user, text: bytes, replacing: nil) else { throw .alreadyExists(path: location) }
    }

    /// One change that may replace or remove the record, as a compare-and-set.
    public func commit<T>(_ body: (Result<FactorFile, StoreError>) throws -> (T, StoreEnding)) throws -> T {
        for _ in 0..<Self.attempts {
            guard let stored = try backend.fetch(user: user) else { throw StoreError.notEnrolled(path: location) }
            let current: Result<FactorFile, StoreError>
            do throws(StoreError) { current = .success(try parse(stored.text)) } catch { current = .failure(error) }
            let (result, ending) = try body(current)
            let done: Bool
            switch ending {
            case .write(let file):
                var bytes = Array(file.text.utf8)
                defer { cleanse(&bytes) }
                done = try backend.store(user: user, text: bytes, replacing: stored.version)
            case .remove:
                done = try backend.delete(user: user, version: stored.version)
            }
            if done { return result }
        }
        throw StoreError.contended(path: location)
    }

    /// Removes the record (whatever its version).
    public func remove() throws(StoreError) {
        for _ in 0..<Self.attempts {
            guard let stored = try backend.fetch(user: user) else { throw .notEnrolled(path: location) }
            if try backend.delete(user: user, version: stored.version) { return }
        }
        throw .contended(path: location)
    }

    private func parse(_ text: SecretBytes) throws(StoreError) -> FactorFile {
        try FactorFile(stored: text, location: location)
    }
}
