import NIOCore
import PostgresNIO

/// The fleet store's schema: its version, the statements that make each
/// version, and `twostepd --migrate`.
extension PostgresRecordBackend {
    // MARK: Schema

    /// The schema this twostepd reads and writes.
    static let schemaVersion: Int32 = 3

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
        // 2: the send counts (SPEC §5), per account and per number.
        [
            """
            CREATE TABLE twostep_sends (
                subject text PRIMARY KEY CHECK (length(subject) BETWEEN 1 AND 300),
                times bigint[] NOT NULL DEFAULT '{}',
                updated timestamptz NOT NULL DEFAULT now())
            """,
        ],
        // 3: a login's write in one round trip (SPEC §13): the
        // compare-and-set (or create), on a lost race the current row read
        // under its lock, and the COMMIT, in one CALL whose answer follows
        // the COMMIT. stored is the new version, null when nothing was
        // stored; schema_version the schema read (nothing is done unless it
        // is expected_schema).
        [
            """
            CREATE OR REPLACE PROCEDURE twostep_store(
                name text, new_record text, seen bigint, expected_schema integer,
                INOUT stored bigint DEFAULT NULL, INOUT schema_version integer DEFAULT NULL,
                INOUT current_record text DEFAULT NULL, INOUT current_version bigint DEFAULT NULL)
            LANGUAGE plpgsql AS $$
            #variable_conflict use_column
            BEGIN
                SELECT s.version INTO schema_version FROM twostep_schema s;
                IF schema_version IS DISTINCT FROM expected_schema THEN
                    RETURN;
                END IF;
                IF seen IS NULL THEN
                    INSERT INTO twostep_records (username, record, version) VALUES (name, new_record, 1)
                    ON CONFLICT (username) DO NOTHING RETURNING version INTO stored;
                ELSE
                    UPDATE twostep_records SET record = new_record, version = version + 1, updated = now()
                    WHERE username = name AND version = seen RETURNING version INTO stored;
                END IF;
                IF stored IS NULL THEN
                    SELECT r.record, r.version INTO current_record, current_version
                    FROM twostep_records r WHERE r.username = name FOR UPDATE;
                END IF;
                COMMIT;
            END
            $$
            """,
        ],
    ]

    /// `twostepd --migrate`: creates the schema or upgrades it to
    /// `schemaVersion`, in one transaction under an advisory lock (two
    /// hosts migrating at once take turns). Returns the versions before
    /// and after (0: there was none). A newer schema than this twostepd
    /// knows is an error. Waits up to a minute (locks held by a running
    /// fleet are short).
    func migrate() throws -> (from: Int32, to: Int32) {
        let logger = self.logger
        return try connections.run(timeout: 60) { connection in
            func query(_ q: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> { connection.query(q, logger: logger) }
            func all(_ statements: [String]) -> EventLoopFuture<Void> {
                statements.reduce(connection.eventLoop.makeSucceededVoidFuture()) { previous, statement in
                    previous.flatMap { query(PostgresQuery(unsafeSQL: statement)).map { _ in } }
                }
            }
            return query("BEGIN").flatMap { _ in query("SELECT pg_advisory_xact_lock(7723001)") }
                .flatMap { _ in query("SELECT to_regclass('twostep_schema') IS NOT NULL") }
                .flatMapThrowing { try $0.rows.first?.decode(Bool.self) ?? false }
                .flatMap { exists -> EventLoopFuture<Int32> in
                    guard exists else { return connection.eventLoop.makeSucceededFuture(-1) }
                    return query("SELECT version FROM twostep_schema").flatMapThrowing { try $0.rows.first?.decode(Int32.self) ?? -1 }
                }
                .flatMapThrowing { current -> Int32 in
                    guard current <= Self.schemaVersion else {
                        throw MigrationError(reason: "the database's schema is version \(current), newer than this twostepd's (\(Self.schemaVersion)); upgrade twostepd")
                    }
                    return current
                }
                .flatMap { current -> EventLoopFuture<(from: Int32, to: Int32)> in
                    let first = Int(max(current, 0))
                    let steps = Self.migrations[first...].flatMap { $0 }
                    return all(steps).flatMap { _ in query("UPDATE twostep_schema SET version = \(Self.schemaVersion)") }
                        .flatMap { _ in query("COMMIT") }
                        .flatMapThrowing { end in
                            guard end.metadata.command == "COMMIT" else { throw NotCommitted(tag: end.metadata.command) }
                            return (max(current, 0), Self.schemaVersion)
                        }
                }
        }
    }

    struct MigrationError: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }
}
