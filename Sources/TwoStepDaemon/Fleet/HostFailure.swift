import PostgresNIO

/// Which errors mean "this host cannot be used now: try the next one of
/// `database=`" (SPEC §13), as opposed to an answer about the work itself
/// (a schema of another version) or a slow server (a time-out).
enum HostFailure {
    /// A connection that could not be made, or broke, or a server that
    /// refuses writes (25006), is shutting down (57P01, 57P02), not yet
    /// accepting connections (57P03), or reports a connection exception
    /// (class 08).
    static func isHostFailure(_ error: any Error) -> Bool {
        if error is PostgresConnections.NotTarget { return true }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state == readOnlyState || ["57P01", "57P02", "57P03"].contains(state) || state.hasPrefix("08")
        }
        return [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection].contains(error.code)
    }

    /// SQLSTATE read_only_sql_transaction: a write on a standby, or on a
    /// server whose sessions are read-only.
    static let readOnlyState = "25006"

    /// Whether `error` is that refusal of a write.
    static func isReadOnly(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == readOnlyState
    }

    /// A short reason for the log: the server's message and SQLSTATE, the
    /// client's error code and what lies under it; never a parameter's value.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if error.serverInfo?[.message] != nil { return PostgresRecordBackend.describe(error) }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
