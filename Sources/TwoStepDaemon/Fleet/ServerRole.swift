import TwoStepCore

/// What a PostgreSQL server said it is, right after twostepd connected
/// (SPEC §13): a standby (`pg_is_in_recovery()`) or not, and whether its
/// sessions are read-only (`transaction_read_only`).
struct ServerRole: Sendable, Equatable, CustomStringConvertible {
    var inRecovery: Bool
    var readOnly: Bool

    /// The query that tells it, one row: (bool, text).
    static let query = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"

    /// Whether a host of this role is one `target_session_attrs` settles on.
    func fits(_ target: DatabaseURI.TargetSessionAttributes) -> Bool {
        switch target {
        case .any: true
        case .readWrite: !readOnly
        case .primary: !inRecovery
        }
    }

    /// `primary`, `standby`, or `read-only primary`.
    var description: String {
        if inRecovery { return "standby" }
        return readOnly ? "read-only primary" : "primary"
    }
}
