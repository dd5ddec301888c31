import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import TwoStepCore
import TwoStepStore

/// The fleet store (SPEC §9): one row per user in PostgreSQL, reached
/// through PostgresNIO's connection pool.
///
/// Every change is one statement that compares the row's version and
/// bumps it (`UPDATE … WHERE version = $n`), in a transaction of its own:
/// PostgreSQL runs it under the row's lock, so of several hosts that read
/// version n and try to store n+1, exactly one succeeds and the others
/// re-read (`VersionedRecordStore`). A store is one round trip, `CALL
/// twostep_store(…)`, whose procedure commits before it answers; a
/// removal is BEGIN, DELETE, COMMIT. Either way the answer follows the
/// commit, which PostgreSQL flushes first (an autocommit statement's
/// CommandComplete comes before its commit, and an error in the commit
/// would follow it). Nothing is acknowledged before that; a statement that does not answer within `database_timeout` is
/// `unavailable` (and cancelled), never a success.
///
/// Each statement also checks the schema version in the same snapshot, so
/// a database migrated by a newer twostepd (or never migrated) is refused
/// with a clear reason instead of being misread.
final class PostgresRecordBackend: RecordBackend, SendCounter, Sendable {
    let connections: PostgresConnections
    let logger: Logger

    var name: String { "postgresql" }

    init(uri: DatabaseURI, password: String?, timeout: Int, logger: Logger) throws {
        let endpoints = try uri.hosts.map { host in
            PostgresConnections.Endpoint(host: host, configuration: try Self.configuration(uri, host, password: password, timeout: timeout))
        }
        connections = PostgresConnections(
            endpoints: endpoints, target: uri.targetSessionAttributes, timeout: Double(timeout), logger: logger)
        self.logger = logger
    }

    /// How to connect to `host`, one of the URI's servers.
    static func configuration(_ uri: DatabaseURI, _ host: DatabaseHost, password: String?, timeout: Int) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if host.isUnixSocket {
            configuration = PostgresConnection.Configuration(
                unixSocketPath: host.socketPath, username: uri.user, password: password, database: uri.database)
        } else {
            configuration = PostgresConnection.Configuration(
                host: host.name, port: host.port, username: uri.user, password: password, database: uri.database,
                tls: try Self.tls(uri))
        }
        configuration.options.connectTimeout = .seconds(Int64(timeout))
        // The server gives up too, so a statement stuck behind a lock does
        // not hold a connection after twostepd stopped waiting. The
        // statement time-out is a second longer than twostepd's wait: a
        // COMMIT waiting for a synchronous standby that it cancels is
        // reported as committed (with a warning) though the standby may
        // not have it, and twostepd must have stopped listening by then.
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", String(timeout * 1000 + 1000)),
            ("lock_timeout", String(timeout * 1000)),
            ("application_name", "twostepd"),
        ]
        return configuration
    }

    /// libpq's sslmode as PostgresNIO's TLS setting. `allow` and `prefer`
    /// try TLS and fall back; `require` encrypts without checking the
    /// certificate (as libpq without a root certificate); `verify-ca`
    /// checks the chain; `verify-full` the chain and the host name.
    static func tls(_ uri: DatabaseURI) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let root = uri.sslRootCertificate { tls.trustRoots = .file(root) }
        switch uri.sslMode {
        case .disable: return .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .prefer(try NIOSSLContext(configuration: tls))
        case .require:
            tls.certificateVerification = uri.sslRootCertificate == nil ? .none : .noHostnameVerification
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return .require(try NIOSSLContext(configuration: tls))
        }
    }

    // MARK: RecordBackend

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        let logger = self.logger
        let rows = try run(user) { connection in
            connection.query(
                """
                SELECT s.version, r.record, r.version FROM twostep_schema s
                LEFT JOIN twostep_records r ON r.username = \(user)
                """, logger: logger
            ).flatMapThrowing { result in try result.rows.map { try $0.decode((Int32, String?, Int64?).self) } }
        }
        guard rows.count == 1 else { throw unusable(user, "twostep_schema holds \(rows.count) rows, not 1; run 'twostepd --migrate'") }
        let (schema, text, version) = rows[0]
        try check(schema: schema, user)
        guard let text, let version else { return nil }
        return StoredRecord(text: SecretBytes(Array(text.utf8)), version: version)
    }

    /// One round trip (SPEC §13): `CALL twostep_store(…)`, a procedure
    /// that compares and sets (or creates), reads the current row under
    /// its lock when another writer got there first, and COMMITs inside
    /// the call. Its answer comes only after that COMMIT (a COMMIT that
    /// fails fails the CALL), so `true` means committed, as with the
    /// explicit transaction it replaces, in one message instead of three.
    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        if case .stored = try storeOrRead(user: user, text: text, replacing: version) { return true }
        return false
    }

    /// `store`, and on a lost race the row as `twostep_store` read it
    /// under its lock in the same transaction (nil: no row any more).
    func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome {
        let record = String(decoding: text, as: UTF8.self)
        let schema = Self.schemaVersion
        let logger = self.logger
        let answer = try run(user) { connection in
            connection.query(
                "CALL twostep_store(\(user), \(record), \(version), \(schema), NULL, NULL, NULL, NULL)", logger: logger
            ).flatMapThrowing { result -> StoreAnswer in
                guard let row = result.rows.first else { throw StoreAnswer.Missing() }
                let (stored, found, now, nowVersion) = try row.decode((Int64?, Int32?, String?, Int64?).self)
                return StoreAnswer(stored: stored != nil, schema: found, current: now, currentVersion: nowVersion)
            }
        }
        guard let found = answer.schema else { throw unusable(user, "twostep_schema holds no row; run 'twostepd --migrate'") }
        try check(schema: found, user)
        if answer.stored { return .stored }
        guard let now = answer.current, let nowVersion = answer.currentVersion else { return .superseded(nil) }
        return .superseded(StoredRecord(text: SecretBytes(Array(now.utf8)), version: nowVersion))
    }

    /// What `twostep_store` said: stored or not, the schema version it
    /// read, and on a lost race the row it read (none: null).
    private struct StoreAnswer: Sendable {
        let stored: Bool
        let schema: Int32?
        let current: String?
        let currentVersion: Int64?
        struct Missing: Error, CustomStringConvertible {
            var description: String { "CALL twostep_store returned no row" }
        }
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool {
        let schema = Self.schemaVersion
        let deleted = try transaction(user, """
            DELETE FROM twostep_records WHERE username = \(user) AND version = \(version)
            AND (SELECT version FROM twostep_schema) = \(schema) RETURNING version
            """)
        if deleted == 0 { try checkSchema(user) }
        return deleted == 1
    }

    /// `statement` in a transaction of its own; the rows it returned.
    ///
    /// BEGIN, the statement and COMMIT are queued on one connection at once
    /// (PostgresNIO sends each when the one before is answered, without a
    /// round through this task), and the answer is the COMMIT's: PostgreSQL
    /// sends it once the commit is flushed. A failed statement turns the
    /// COMMIT into a ROLLBACK, which is an error here.
    private func transaction(_ user: String, _ statement: PostgresQuery) throws(StoreError) -> Int {
        let logger = self.logger
        return try run(user) { connection in
            let begin: EventLoopFuture<PostgresQueryResult> = connection.query("BEGIN", logger: logger)
            let change: EventLoopFuture<PostgresQueryResult> = connection.query(statement, logger: logger)
            let commit: EventLoopFuture<PostgresQueryResult> = connection.query("COMMIT", logger: logger)
            return begin.and(change).and(commit).flatMapThrowing { first, end in
                guard end.metadata.command == "COMMIT" else { throw NotCommitted(tag: end.metadata.command) }
                return first.1.rows.count
            }
        }
    }

    struct NotCommitted: Error, CustomStringConvertible {
        let tag: String
        var description: String { "the transaction ended with \(tag), not COMMIT" }
    }

    // MARK: SendCounter

    /// One send for `account` to `number` (SPEC §5), counted in
    /// `twostep_sends` (one row per account, `user.NAME`, and per number,
    /// `number.+E164`), where no user can reset it and every host sees the
    /// same count. One transaction: both rows made if missing, locked
    /// (`FOR UPDATE`, in name order: no deadlock between two sends), the
    /// decision made here by TwoStepCore's `SendPolicy`, both rows stored
    /// and committed; a send refused by the limit rolls back. The answer is
    /// the COMMIT's: no code goes out before the count is durable.
    func admit(account: String, number: PhoneNumber, policy: SendPolicy, at now: Int64) throws(StoreError) -> Int64? {
        let logger = self.logger
        let user = "user." + account, phone = "number." + number.e164
        return try run(account) { connection in
            func query(_ q: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> { connection.query(q, logger: logger) }
            return query("BEGIN")
                .flatMap { _ in query("INSERT INTO twostep_sends (subject) VALUES (\(user)), (\(phone)) ON CONFLICT (subject) DO NOTHING") }
                .flatMap { _ in
                    query("SELECT subject, times FROM twostep_sends WHERE subject IN (\(user), \(phone)) ORDER BY subject FOR UPDATE")
                }
                .flatMapThrowing { result -> (Int64?, [Int64], [Int64]) in
                    var logs = [String: SendLog]()
                    for row in result.rows {
                        let (subject, times) = try row.decode((String, [Int64]).self)
                        logs[subject] = SendLog(times: times)
                    }
                    var userLog = logs[user] ?? SendLog(), phoneLog = logs[phone] ?? SendLog()
                    let until = policy.admit(account: &userLog, number: &phoneLog, at: now)
                    return (until, userLog.times, phoneLog.times)
                }
                .flatMap { (until, userTimes, phoneTimes) -> EventLoopFuture<Int64?> in
                    guard until == nil else { return query("ROLLBACK").map { _ in until } }
                    return query("UPDATE twostep_sends SET times = \(userTimes), updated = now() WHERE subject = \(user)")
                        .flatMap { _ in query("UPDATE twostep_sends SET times = \(phoneTimes), updated = now() WHERE subject = \(phone)") }
                        .flatMap { _ in query("COMMIT") }
                        .flatMapThrowing { end in
                            guard end.metadata.command == "COMMIT" else { throw NotCommitted(tag: end.metadata.command) }
                            return nil
                        }
                }
        }
    }

    // MARK: Plumbing

    /// Why nothing was stored: the schema is not this twostepd's.
    private func checkSchema(_ user: String) throws(StoreError) {
        let logger = self.logger
        let versions = try run(user) { connection in
            connection.query("SELECT version FROM twostep_schema", logger: logger)
                .flatMapThrowing { result in try result.rows.map { try $0.decode(Int32.self) } }
        }
        guard versions.count == 1 else { throw unusable(user, "twostep_schema holds \(versions.count) rows, not 1; run 'twostepd --migrate'") }
        try check(schema: versions[0], user)
    }

    private func check(schema: Int32, _ user: String) throws(StoreError) {
        guard schema == Self.schemaVersion else {
            let fix = schema < Self.schemaVersion ? "run 'twostepd --migrate'" : "upgrade twostepd on this host"
            throw unusable(user, "the database's schema is version \(schema), this twostepd uses version \(Self.schemaVersion); \(fix)")
        }
    }

    /// The database did not answer (in time): `offline=cached` may decide from its copy.
    private func unavailable(_ user: String, _ reason: String) -> StoreError {
        .unavailable(path: "\(name): \(user)", reason: reason)
    }

    /// The database answered, and what it said cannot be used (a schema of
    /// another version, an error other than a time-out): no offline decision.
    private func unusable(_ user: String, _ reason: String) -> StoreError {
        .unsafe(path: "\(name): \(user)", reason: reason)
    }

    /// Runs one statement's work within `timeout`; every failure is
    /// `unavailable` (no answer, or "too slow" from the server) or
    /// `unsafe` (any other answer), with PostgreSQL's own message where
    /// there is one (never a parameter's value: the statements bind them).
    private func run<T: Sendable>(_ user: String, _ work: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>) throws(StoreError) -> T {
        do {
            return try connections.run(work)
        } catch let error as PostgresConnections.TimedOut {
            throw unavailable(user, "the database did not answer within \(error.seconds) s (database_timeout)")
        } catch let error as KnownDown.Down {
            throw unavailable(user, error.description)
        } catch let error as PostgresConnections.NoServer {
            // Every server refused, broke, or is a standby: an outage.
            throw unavailable(user, error.description)
        } catch let error as PSQLError {
            // An answer from the server other than "too slow" or "going away" is not an outage.
            if let state = error.serverInfo?[.sqlState], !Self.outageStates.contains(state) {
                throw unusable(user, Self.describe(error))
            }
            throw unavailable(user, Self.describe(error))
        } catch {
            throw unavailable(user, "\(error)")
        }
    }

    /// SQLSTATEs that mean the server is too slow or going away:
    /// statement_timeout, lock_timeout, admin/crash shutdown, cannot
    /// connect now, too many connections.
    static let outageStates: Set<String> = ["57014", "55P03", "57P01", "57P02", "57P03", "53300"]

    /// PostgreSQL's message and SQLSTATE, or the client's error code.
    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            // No table, or no twostep_store (a schema before version 3).
            if ["42P01", "42883"].contains(error.serverInfo?[.sqlState]) { return "\(message)\(state); run 'twostepd --migrate'" }
            return message + state
        }
        return "\(error.code)"
    }
}
