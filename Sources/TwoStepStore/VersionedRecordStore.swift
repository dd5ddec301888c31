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
}

/// `RecordStore` on a `RecordBackend`: read, decide, compare-and-set; when
/// another writer (another host) changed the record between the read and
/// the store, the body runs again on the newer record. A TOTP step, a
/// backup code or a failure is thus counted exactly once however many
/// hosts race, and only after the backend committed it.
public struct VersionedRecordStore<Backend: RecordBackend>: RecordStore {
    public let backend: Backend
    public let user: String
    /// Rounds of read-decide-store before giving up (`contended`). Each
    /// lost round means another writer's change was committed, so with N
    /// hosts racing on one record, N rounds are always enough.
    public static var attempts: Int { 64 }

    public init(backend: Backend, user: String) {
        self.backend = backend
        self.user = user
    }

    public var location: String { "\(backend.name): \(user)" }

    public struct Snapshot: RecordSnapshot {
        public let file: FactorFile
        public let version: Int64
        public let offline: Bool
    }

    public func readSnapshot() throws(StoreError) -> Snapshot {
        guard let stored = try backend.fetch(user: user) else { throw .notEnrolled(path: location) }
        return Snapshot(file: try parse(stored.text), version: stored.version, offline: stored.offline)
    }

    public func exists() throws(StoreError) -> Bool {
        try backend.fetch(user: user) != nil
    }

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
            if try backend.store(user: user, text: bytes, replacing: seen.version) { return result }
            current = nil
        }
        throw StoreError.contended(path: location)
    }

    public func create(_ file: FactorFile) throws(StoreError) {
        var bytes = Array(file.text.utf8)
        defer { cleanse(&bytes) }
        guard try backend.store(user: user, text: bytes, replacing: nil) else { throw .alreadyExists(path: location) }
    }

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
