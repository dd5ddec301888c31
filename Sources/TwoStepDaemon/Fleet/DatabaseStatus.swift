import FoundationEssentials
import Logging
import PostgresNIO
import TwoStepCore

/// `io.twostep.Manage.DatabaseStatus`'s reply (SPEC §13), as
/// `twostepd --status` prints it: the server in use and its role, whether
/// it has a synchronous standby (exactly-once across a failover needs
/// one), the last failover, and this twostepd's database calls since it
/// started. Names no secret: hosts, settings, counts.
struct DatabaseStatus: Codable, Sendable {
    /// A standby the server streams to (`pg_stat_replication`); its state
    /// and sync state are null when the `twostep` role may not see them
    /// (PostgreSQL shows them to `pg_read_all_stats`).
    struct Standby: Codable, Sendable {
        var name: String
        var state: String?
        var syncState: String?
    }

    struct Failover: Codable, Sendable {
        /// Unix seconds.
        var time: Int64
        var from: String
        var to: String
        var reason: String
    }

    /// Milliseconds.
    struct Latency: Codable, Sendable {
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
    }

    var backend: String
    /// The servers of `database=`, in order.
    var hosts: [String] = []
    /// The server in use, its role, and why it could not be asked (then
    /// the fields below it are null).
    var host: String?
    var role: String?
    var problem: String?
    var synchronousStandbyNames: String?
    var synchronousCommit: String?
    var standbys: [Standby] = []
    /// True: a standby is in sync (or quorum) and commits wait for it.
    /// False: none (no names, synchronous_commit local or off, or no
    /// standby in sync). Null: cannot be told (the states are hidden).
    var synchronous: Bool?
    var knownDown = false
    var lastFailover: Failover?
    var calls = 0
    var errors = 0
    var latencyMs: Latency?

    /// backend=file: nothing to tell.
    static let fileBackend = DatabaseStatus(backend: "file")

    /// One row: role, settings, and the standbys as JSON text.
    static let query = """
        SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),
               current_setting('synchronous_standby_names'), current_setting('synchronous_commit'),
               coalesce((SELECT json_agg(json_build_object('name', application_name, 'state', state, 'syncState', sync_state))
                         FROM pg_stat_replication), '[]')::text
        """

    /// Asks the server in use (one call, through the choice of server and
    /// the known-down rule like any other) and adds what `connections`
    /// counted.
    static func read(_ connections: PostgresConnections) -> DatabaseStatus {
        var status = DatabaseStatus(backend: "postgresql")
        status.hosts = connections.endpoints.map { $0.host.description }
        let logger = connections.logger
        do {
            let row = try connections.run { connection in
                connection.query(PostgresQuery(unsafeSQL: query), logger: logger).flatMapThrowing { result in
                    guard let row = result.rows.first else { throw Unanswered() }
                    return try row.decode((Bool, String, String, String, String).self)
                }
            }
            let (recovery, readOnly, names, commit, standbys) = row
            status.role = ServerRole(inRecovery: recovery, readOnly: readOnly != "off").description
            status.synchronousStandbyNames = names
            status.synchronousCommit = commit
            status.standbys = (try? JSONDecoder().decode([Standby].self, from: Data(standbys.utf8))) ?? []
            status.synchronous = synchronous(names: names, commit: commit, standbys: status.standbys)
        } catch {
            status.problem = HostFailure.describe(error)
        }
        status.host = connections.currentHost.description
        status.knownDown = connections.health.isDown
        if let change = connections.failovers.withLock({ $0 }) {
            status.lastFailover = Failover(time: change.time, from: change.from.description, to: change.to.description, reason: change.reason)
        }
        let counted = connections.metrics.snapshot()
        status.calls = counted.calls
        status.errors = counted.errors
        if let p50 = counted.p50, let p90 = counted.p90, let p99 = counted.p99, let max = counted.max {
            status.latencyMs = Latency(p50: p50, p90: p90, p99: p99, max: max)
        }
        return status
    }

    private struct Unanswered: Error, CustomStringConvertible {
        var description: String { "the status query returned no row" }
    }

    /// Whether commits wait for a standby that has them.
    static func synchronous(names: String, commit: String, standbys: [Standby]) -> Bool? {
        if names.allSatisfy({ $0 == " " }) || commit == "off" || commit == "local" { return false }
        if standbys.contains(where: { $0.syncState == "sync" || $0.syncState == "quorum" }) { return true }
        if standbys.contains(where: { $0.syncState == nil }) { return nil }
        return false
    }

    /// The start-up log's line about the database: its server, role and
    /// synchronous standby (SPEC §13).
    func logAtStart(_ logger: Logger) {
        let server = "\(host ?? "?") (\(role ?? "role unknown"))"
        if let problem {
            logger.warning("database: cannot ask \(host ?? "it") at start: \(problem)")
            return
        }
        switch synchronous {
        case true?:
            logger.notice("database: using \(server), with a synchronous standby (\(standbyText)): a code accepted before a failover stays used")
        case false?:
            logger.warning("database: using \(server), without a synchronous standby (synchronous_standby_names='\(synchronousStandbyNames ?? "")', synchronous_commit=\(synchronousCommit ?? "?")\(standbys.isEmpty ? "" : "; " + standbyText)): a failover may lose the last committed uses of codes; exactly-once across a failover needs synchronous replication")
        case nil:
            logger.notice("database: using \(server); synchronous_standby_names='\(synchronousStandbyNames ?? "")' but whether a standby is in sync cannot be seen (GRANT pg_read_all_stats TO the twostep role)")
        }
    }

    /// `name: state, sync state` of each standby.
    var standbyText: String {
        standbys.map { "\($0.name): \($0.state ?? "state hidden"), \($0.syncState ?? "sync state hidden")" }.joined(separator: "; ")
    }
}
