import TwoStepCore

/// One user's record as a store hands it out: what it parses to, plus what
/// the store needs to know later that it is unchanged.
public protocol RecordSnapshot: Sendable {
    /// The parsed record.
    var file: FactorFile { get }
    /// True when this is twostepd's cached copy, read while its database
    /// was unreachable (`offline=cached`): only authenticator codes count.
    var offline: Bool { get }
}

extension RecordSnapshot {
    public var offline: Bool { false }
}

/// What `RecordStore.commit` stores once its body has decided.
public enum StoreEnding: Sendable {
    /// Store this content in place of the record (durably).
    case write(FactorFile)
    /// Remove the record.
    case remove
}

/// One user's record wherever it is kept: the factor file (`FactorStore`),
/// or a versioned store reached through twostepd or a database
/// (`VersionedRecordStore`). The login flow, the CLI's commands and
/// twostepd's methods are written once against this.
///
/// Every change is atomic with respect to every other change to the same
/// record, on every host sharing the store: `update` and `commit` either
/// store the body's result over exactly the record the body saw, or store
/// nothing. Their bodies must be pure: a versioned store runs one again
/// on the newer record when another writer got there first.
public protocol RecordStore: Sendable {
    associatedtype Snapshot: RecordSnapshot
    /// Where the record is, for messages: a path, or `twostepd: alice`.
    var location: String { get }
    /// Reads and parses the record.
    func readSnapshot() throws -> Snapshot
    /// True when there is a record (it may still be corrupt).
    func exists() throws -> Bool
    /// Read-modify-write: `body` gets the current record and may change it;
    /// the change is stored before this returns (`durability` tells a file
    /// store how hard to work; a database commits every change). An error
    /// thrown by `body` stores nothing. `snapshot`: an earlier read, used
    /// when the record is still the one it saw.
    func update<T>(from snapshot: Snapshot?, durability: (T) -> FactorStore.Durability,
                   _ body: (inout FactorFile) throws -> T) throws -> T
    /// Stores a new record where there is none; `alreadyExists` otherwise.
    func create(_ file: FactorFile) throws
    /// One change that may replace the record whatever it held, or remove
    /// it: `body` gets the record (`.failure(.corrupt)` when it does not
    /// parse) and returns its result and what to store.
    func commit<T>(_ body: (Result<FactorFile, StoreError>) throws -> (T, StoreEnding)) throws -> T
    /// Removes the record.
    func remove() throws
}

extension RecordStore {
    /// Reads and parses the record.
    public func read() throws -> FactorFile { try readSnapshot().file }

    /// `update(from:durability:_:)` with no snapshot, stored durably.
    public func update<T>(_ body: (inout FactorFile) throws -> T) throws -> T {
        try update(from: nil, durability: { _ in .durable }, body)
    }
}

extension FactorStore.Snapshot: RecordSnapshot {}

extension FactorStore: RecordStore {
    public var location: String { path }

    public func readSnapshot() throws(StoreError) -> Snapshot { try readSnapshot(keepOpen: false) }
}
