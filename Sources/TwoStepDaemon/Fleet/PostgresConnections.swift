import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization
import TwoStepAccounts
import TwoStepCore

/// A few PostgreSQL connections, each used by one call at a time, for
/// twostepd's Varlink methods: they run on the server's thread pool and
/// wait for their statements there, so a call is one hop to the event
/// loop and one back (no Swift-concurrency task between; a login waits for
/// two statements, and the hops were most of their cost).
///
/// The servers of `database=` are tried in order (SPEC §13), starting with
/// the one in use: a new connection is kept only if the server's role
/// fits `target_session_attrs` (`ServerRole`); a connection that cannot be
/// made or breaks, or a server that refuses a write as read-only, sends
/// the call on to the next server (`HostFailure`) within the same
/// deadline. The server that answered becomes the one in use; a change
/// is logged once, as a failover.
///
/// Every wait is bounded by `timeout`: a connection whose statement did
/// not answer in time is closed (PostgreSQL then cancels it too, and its
/// own `statement_timeout` is the same), and the caller gets `TimedOut`.
/// Connecting to a server that is not the last to try gets its share of
/// what is left, so a server that does not answer at all does not keep
/// the call from the next one.
final class PostgresConnections: Sendable {
    /// One server of `database=` and how to connect to it (its own TLS
    /// settings: `verify-full` checks its own name).
    struct Endpoint: Sendable {
        let host: DatabaseHost
        let configuration: PostgresConnection.Configuration
    }

    let endpoints: [Endpoint]
    let target: DatabaseURI.TargetSessionAttributes
    let timeout: Double
    let logger: Logger
    /// At most this many connections are kept idle.
    let keep: Int
    private let group: MultiThreadedEventLoopGroup
    /// Idle connections, each with the index of its endpoint.
    private let idle = Mutex<[(host: Int, connection: PostgresConnection)]>([])
    /// The endpoint in use: tried first.
    private let current = Mutex<Int>(0)
    private let ids = Atomic<Int>(0)
    /// The last change of server, for the status.
    let failovers = Mutex<Failover?>(nil)
    /// Whether calls are tried at all (SPEC §13, "known down").
    let health: KnownDown
    /// Every `run`: count, failures, latency (for the status).
    let metrics = DatabaseMetrics()

    /// A change of the server in use.
    struct Failover: Sendable {
        let time: Int64
        let from: DatabaseHost
        let to: DatabaseHost
        let reason: String
    }

    struct TimedOut: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "no answer within \(seconds) s" }
    }

    /// A server whose role does not fit `target_session_attrs`.
    struct NotTarget: Error, CustomStringConvertible {
        let role: ServerRole
        let target: DatabaseURI.TargetSessionAttributes
        var description: String { "a \(role), not target_session_attrs=\(target.rawValue)" }
    }

    /// No server of `database=` could be used; why, for each.
    struct NoServer: Error, CustomStringConvertible {
        let reasons: [String]
        var description: String { "no server of database= can be used: " + reasons.joined(separator: "; ") }
    }

    init(endpoints: [Endpoint], target: DatabaseURI.TargetSessionAttributes, timeout: Double, keep: Int = 16, logger: Logger) {
        precondition(!endpoints.isEmpty, "database= names at least one host")
        self.endpoints = endpoints
        self.target = target
        self.timeout = timeout
        self.keep = keep
        self.logger = logger
        health = KnownDown(logger: logger)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// The server in use (the one tried first).
    var currentHost: DatabaseHost { endpoints[current.withLock { $0 }].host }

    /// Runs `body` on a connection (an idle one, or a new one) and waits
    /// for its future, all within `timeout`; on a host failure, again on
    /// the next server.
    ///
    /// `body` may therefore run more than once, on different servers, when
    /// the first broke or refused: it must be work that is safe to repeat
    /// (a compare-and-set, a read). Its result is only ever the one
    /// server's that answered.
    ///
    /// While the database is known down (`KnownDown`: a call timed out
    /// less than its window ago) it is not tried: `KnownDown.Down` at once.
    func run<T: Sendable>(timeout: Double? = nil, _ body: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>) throws -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        var failed = true
        defer { metrics.record(seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, failed: failed) }
        try health.check()
        do {
            let value = try attempt(timeout: timeout, body)
            health.answered()
            failed = false
            return value
        } catch let error as TimedOut {
            _ = health.timedOut("no answer within \(error.seconds) s")
            health.startProbing { [weak self] in self?.probe() ?? true }
            throw error
        } catch let error as PSQLError where error.serverInfo != nil {
            health.answered()  // the server answered, with an error about the work
            throw error
        }
    }

    /// One try of the database for `KnownDown`: true when it answered.
    /// With new connections only: a kept one to a server that stopped
    /// answering (a network partition) would take the whole time again,
    /// where connecting gets its share and leaves time for the next
    /// server (a promoted standby).
    private func probe() -> Bool {
        let logger = self.logger
        do {
            _ = try attempt(timeout: nil, reuseIdle: false) { $0.query("SELECT 1", logger: logger).map { _ in true } }
            health.answered()
            return true
        } catch let error as TimedOut {
            _ = health.timedOut("no answer within \(error.seconds) s")
            return false
        } catch {
            return false
        }
    }

    /// `run` without the known-down rule.
    private func attempt<T: Sendable>(
        timeout: Double?, reuseIdle: Bool = true, _ body: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>
    ) throws -> T {
        let seconds = timeout ?? self.timeout
        let deadline = DispatchTime.now() + seconds
        let first = current.withLock { $0 }
        let order = [first] + endpoints.indices.filter { $0 != first }
        var reasons: [String] = []
        for (position, index) in order.enumerated() {
            var reuse = reuseIdle
            while true {
                let connection: PostgresConnection, reused: Bool
                if reuse, let c = popIdle(index) {
                    (connection, reused) = (c, true)
                } else {
                    let left = order.count - position
                    do {
                        connection = try connect(index, until: share(of: deadline, among: left), seconds: seconds)
                        reused = false
                    } catch let error as TimedOut where left == 1 {
                        throw error
                    } catch {
                        reasons.append("\(endpoints[index].host): \(HostFailure.describe(error))")
                        break
                    }
                }
                do {
                    let value = try wait(body(connection), until: deadline, closing: connection, seconds: seconds)
                    release(connection, of: index)
                    settle(on: index, reasons)
                    return value
                } catch let error as TimedOut {
                    throw error
                } catch {
                    Self.close(connection)
                    guard HostFailure.isHostFailure(error) else { throw error }
                    dropIdle(of: index)
                    // A kept connection that broke: the server may be
                    // back (restarted); one new connection before the next.
                    if reused && !HostFailure.isReadOnly(error) {
                        reuse = false
                        continue
                    }
                    reasons.append("\(endpoints[index].host): \(HostFailure.describe(error))")
                    break
                }
            }
        }
        throw NoServer(reasons: reasons)
    }

    /// Closes every idle connection and stops the event loop.
    func shutdown() {
        health.stop()
        let all = idle.withLock { list in defer { list.removeAll() }; return list }
        for c in all { Self.close(c.connection) }
        try? group.syncShutdownGracefully()
    }

    // MARK: Choosing the server

    /// The deadline for connecting to one of `left` servers still to try:
    /// an equal share of the time left (all of it for the last).
    private func share(of deadline: DispatchTime, among left: Int) -> DispatchTime {
        guard left > 1 else { return deadline }
        let now = DispatchTime.now().uptimeNanoseconds
        let end = deadline.uptimeNanoseconds
        guard end > now else { return deadline }
        return DispatchTime(uptimeNanoseconds: now + (end - now) / UInt64(left))
    }

    /// A new connection to endpoint `index` whose server's role fits
    /// `target` (else `NotTarget`, and the connection is closed).
    private func connect(_ index: Int, until deadline: DispatchTime, seconds: Double) throws -> PostgresConnection {
        let id = ids.add(1, ordering: .relaxed).newValue
        let future = PostgresConnection.connect(on: group.next(), configuration: endpoints[index].configuration, id: id, logger: logger)
        let connection: PostgresConnection
        do {
            connection = try wait(future, until: deadline, closing: nil, seconds: seconds)
        } catch let error as TimedOut {
            // Connected after all, too late: not kept.
            future.whenSuccess { Self.close($0) }
            throw error
        }
        let logger = self.logger
        do {
            let role = try wait(
                connection.query(PostgresQuery(unsafeSQL: ServerRole.query), logger: logger).flatMapThrowing { result -> ServerRole in
                    guard let row = result.rows.first else { throw NotTarget(role: ServerRole(inRecovery: true, readOnly: true), target: self.target) }
                    let (recovery, readOnly) = try row.decode((Bool, String).self)
                    return ServerRole(inRecovery: recovery, readOnly: readOnly != "off")
                },
                until: deadline, closing: connection, seconds: seconds)
            guard role.fits(target) else { throw NotTarget(role: role, target: target) }
            return connection
        } catch {
            Self.close(connection)
            throw error
        }
    }

    /// Endpoint `index` answered: it is the one in use from now on. A
    /// change is logged once and kept for the status; the idle connections
    /// to the other servers are closed.
    private func settle(on index: Int, _ reasons: [String]) {
        let previous = current.withLock { value -> Int in
            defer { value = index }
            return value
        }
        guard previous != index else { return }
        let reason = reasons.isEmpty ? "the call went to it" : reasons.joined(separator: "; ")
        let change = Failover(time: Clock.now, from: endpoints[previous].host, to: endpoints[index].host, reason: reason)
        failovers.withLock { $0 = change }
        logger.warning("database: now using \(change.to) (was \(change.from))", metadata: ["reason": "\(reason)"])
        let others = idle.withLock { list in
            let gone = list.filter { $0.host != index }
            list.removeAll { $0.host != index }
            return gone
        }
        for c in others { Self.close(c.connection) }
    }

    // MARK: Idle connections

    private func popIdle(_ index: Int) -> PostgresConnection? {
        while let c = idle.withLock({ list -> PostgresConnection? in
            guard let at = list.lastIndex(where: { $0.host == index }) else { return nil }
            return list.remove(at: at).connection
        }) {
            if !c.isClosed { return c }
        }
        return nil
    }

    private func dropIdle(of index: Int) {
        let gone = idle.withLock { list in
            let gone = list.filter { $0.host == index }
            list.removeAll { $0.host == index }
            return gone
        }
        for c in gone { Self.close(c.connection) }
    }

    private func release(_ connection: PostgresConnection, of index: Int) {
        guard !connection.isClosed else { return }
        let kept = idle.withLock { list -> Bool in
            guard list.count < keep else { return false }
            list.append((index, connection))
            return true
        }
        if !kept { Self.close(connection) }
    }

    /// Closes without waiting (the EventLoopFuture form, not the async one).
    private static func close(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        // Kept until the channel is closed (PostgresNIO asserts that).
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private func wait<T: Sendable>(_ future: EventLoopFuture<T>, until deadline: DispatchTime, closing connection: PostgresConnection?, seconds: Double) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: deadline) == .success, let result = outcome.withLock({ $0 }) else {
            if let connection { Self.close(connection) }
            throw TimedOut(seconds: seconds)
        }
        return try result.get()
    }
}
