import Logging
import NIOSSL
import PostgresNIO
import TwoStepCore
import TwoStepStore

/// The fleet store (SPEC §9): one row per user in PostgreSQL, reached
/// through PostgresNIO's connection pool.
///
/// Every change is one statement that compares the row's version and
/// bumps it (`UPDATE … WHERE version = $n`), in an explicit transaction:
/// PostgreSQL runs it under the row's lock, so of several hosts that read
/// version n and try to store n+1, exactly one succeeds and the others
/// re-read (`VersionedRecordStore`). The answer is the COMMIT's, which
/// PostgreSQL sends only once the commit is flushed (an autocommit
/// statement's CommandComplete comes before its commit, and an error in
/// the commit would follow it). Nothing is acknowledged before that; a statement that does not answer within `timeout` is
/// `unavailable` (and cancelled), never a success.
///
/// Each statement also checks the schema version in the same snapshot, so
/// a database migrated by a newer twostepd (or never migrated) is refused
/// with a clear reason instead of being misread.
final class PostgresRecordBackend: RecordBackend, Sendable {
    let client: PostgresClient
    let timeout: Double
    let logger: Logger
    let uri: DatabaseURI

    var name: String { "postgresql" }

    init(uri: DatabaseURI, password: String?, timeout: Int, logger: Logger) throws {
        var configuration: PostgresClient.Configuration
        if uri.isUnixSocket {
            configuration = PostgresClient.Configuration(
                unixSocketPath: uri.socketPath, username: uri.user, password: password, database: uri.database)
        } else {
            configuration = PostgresClient.Configuration(
                host: uri.host, port: uri.port, username: uri.user, password: password, database: uri.database,
                tls: try Self.tls(uri))
        }
        configuration.options.connectTimeout = .seconds(Int64(timeout))
        // The server gives up too, so a statement stuck behind a lock does
        // not hold a connection after twostepd stopped waiting.
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", String(timeout * 1000)),
            ("lock_timeout", String(timeout * 1000)),
            ("application_name", "twostepd"),
        ]
        configuration.options.maximumConnections = 16
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.timeout = Double(timeout)
        self.logger = logger
        self.uri = uri
    }

    /// libpq's sslmode as PostgresNIO's TLS setting. `allow` and `prefer`
    /// try TLS and fall back; `require` encrypts without checking the
    /// certificate (as libpq without a root certificate); `verify-ca`
    /// checks the chain; `verify-full` the chain and the host name.
    static func tls(_ uri: DatabaseURI) throws -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let root = uri.sslRootCertificate { tls.trustRoots = .file(root) }
        switch uri.sslMode {
        case .disable: return .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .prefer(tls)
        case .require:
            tls.certificateVerification = uri.sslRootCertificate == nil ? .none : .noHostnameVerification
            return .require(tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return .require(tls)
        }
    }

    // MARK: RecordBackend

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        let rows = try run(user) { client, logger in
            let sequence = try await client.query(
                """
                SELECT s.version, r.record, r.version FROM twostep_schema s
                LEFT JOIN twostep_records r ON r.username = \(user)
                """, logger: logger)
            var found: [(Int32, String?, Int64?)] = []
            for try await row in sequence.decode((Int32, String?, Int64?).self) { found.append(row) }
            return found
        }
        guard rows.count == 1 else { throw unusable(user, "twostep_schema holds \(rows.count) rows, not 1; run 'twostepd --migrate'") }
        let (schema, text, version) = rows[0]
        try check(schema: schema, user)
        guard let text, let version else { return nil }
        return StoredRecord(text: SecretBytes(Array(text.utf8)), version: version)
    }

    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        let record = String(decoding: text, as: UTF8.self)
        let schema = Self.schemaVersion
        let stored = try run(user) { client, logger in try await client.withTransaction(logger: logger) { connection in
            let sequence: PostgresRowSequence
            if let version {
                sequence = try await connection.query(
                    """
                    UPDATE twostep_records SET record = \(record), version = version + 1, updated = now()
                    WHERE username = \(user) AND version = \(version)
                    AND (SELECT version FROM twostep_schema) = \(schema) RETURNING version
                    """, logger: logger)
            } else {
                sequence = try await connection.query(
                    """
                    INSERT INTO twostep_records (username, record, version)
                    SELECT \(user), \(record), 1 WHERE (SELECT version FROM twostep_schema) = \(schema)
                    ON CONFLICT (username) DO NOTHING RETURNING version
                    """, logger: logger)
            }
            var count = 0
            for try await _ in sequence { count += 1 }
            return count
        } }
        if stored == 0 { try checkSchema(user) }
        return stored == 1
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool {
        let schema = Self.schemaVersion
        let deleted = try run(user) { client, logger in try await client.withTransaction(logger: logger) { connection in
            let sequence = try await connection.query(
                """
                DELETE FROM twostep_records WHERE username = \(user) AND version = \(version)
                AND (SELECT version FROM twostep_schema) = \(schema) RETURNING version
                """, logger: logger)
            var count = 0
            for try await _ in sequence { count += 1 }
            return count
        } }
        if deleted == 0 { try checkSchema(user) }
        return deleted == 1
    }

    /// Every user name with a record (for `twostep report`, `migrate`).
    func users() throws(StoreError) -> [String] {
        try run("*") { client, logger in
            var names: [String] = []
            for try await (name) in try await client.query("SELECT username FROM twostep_records ORDER BY username", logger: logger)
                .decode(String.self) { names.append(name) }
            return names
        }
    }

    // MARK: Schema

    /// The schema this twostepd reads and writes.
    static let schemaVersion: Int32 = 1

    /// The statements that take a schema from version `n - 1` to `n`
    /// (index 0: from nothing to version 1). Run in one transaction.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE twostep_schema (
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                version integer NOT NULL)
            """,
            """
            CREATE TABLE twostep_records (
                username text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 256),
                record text NOT NULL,
                version bigint NOT NULL CHECK (version > 0),
                updated timestamptz NOT NULL DEFAULT now())
            """,
            "INSERT INTO twostep_schema (version) VALUES (0)",
        ],
    ]

    /// `twostepd --migrate`: creates the schema or upgrades it to
    /// `schemaVersion`, in one transaction under an advisory lock (two
    /// hosts migrating at once take turns). Returns the versions before
    /// and after. A newer schema than this twostepd knows is an error.
    func migrate() async throws -> (from: Int32, to: Int32) {
        try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query("SELECT pg_advisory_xact_lock(7723001)", logger: logger)
            var current: Int32 = -1
            let exists = try await connection.query("SELECT to_regclass('twostep_schema') IS NOT NULL", logger: logger)
            for try await (e) in exists.decode(Bool.self) where e {
                for try await (v) in try await connection.query("SELECT version FROM twostep_schema", logger: logger).decode(Int32.self) {
                    current = v
                }
            }
            let from = max(current, 0)
            if current > Self.schemaVersion {
                throw MigrationError(reason: "the database's schema is version \(current), newer than this twostepd's (\(Self.schemaVersion)); upgrade twostepd")
            }
            var version = current
            if version < 0 {
                for statement in Self.migrations[0] { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                version = 1
            }
            while version < Self.schemaVersion {
                for statement in Self.migrations[Int(version)] { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                version += 1
            }
            _ = try await connection.query("UPDATE twostep_schema SET version = \(version)", logger: logger)
            return (from, version)
        }
    }

    struct MigrationError: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    // MARK: Plumbing

    /// Why nothing was stored: the schema is not this twostepd's.
    private func checkSchema(_ user: String) throws(StoreError) {
        let versions = try run(user) { client, logger in
            var found: [Int32] = []
            for try await (v) in try await client.query("SELECT version FROM twostep_schema", logger: logger).decode(Int32.self) { found.append(v) }
            return found
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
    /// `unavailable`, with PostgreSQL's own message where there is one
    /// (never a parameter's value: the statements bind them).
    private func run<T: Sendable>(_ user: String, _ work: @escaping @Sendable (PostgresClient, Logger) async throws -> T) throws(StoreError) -> T {
        let client = self.client, logger = self.logger
        do {
            return try Deadline.run(seconds: timeout) { try await work(client, logger) }
        } catch let error as Deadline.TimedOut {
            throw unavailable(user, "the database did not answer within \(error.seconds) s (database_timeout)")
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
            if error.serverInfo?[.sqlState] == "42P01" { return "\(message)\(state); run 'twostepd --migrate'" }
            return message + state
        }
        return "\(error.code)"
    }
}
