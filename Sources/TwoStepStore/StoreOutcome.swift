/// What a compare-and-set of a `RecordBackend` did (SPEC §13): stored, or
/// not, and then — when the backend read it in the same transaction, under
/// the row's lock — the record as it is now, so that the caller decides
/// again without another fetch.
public enum StoreOutcome: Sendable {
    /// Stored (committed).
    case stored
    /// Another writer got there first; the record as it is now (nil: the
    /// user has none any more), read under its lock after that writer
    /// committed.
    case superseded(StoredRecord?)
    /// Not stored, and nothing more is known: fetch again.
    case notStored
}
