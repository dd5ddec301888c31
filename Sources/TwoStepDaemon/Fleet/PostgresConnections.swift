import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A few PostgreSQL connections, each used by one call at a time, for
/// twostepd's Varlink methods: they run on the server's thread pool and
/// wait for their statements there, so a call is one hop to the event
/// loop and one back (no Swift-concurrency task between; a login waits for
/// two statements, and the hops were most of their cost).
///
/// Every wait is bounded by `timeout`: a connection whose statement did
/// not answer in time is closed (PostgreSQL then cancels it too, and its
/// own `statement_timeout` is the same), and the caller gets `TimedOut`.
/// A connection that failed is dropped; the next call connects anew.
final class PostgresConnections: Sendable {
    let configuration: PostgresConnection.Configuration
    let timeout: Double
    let logger: Logger
    /// At most this many connections are kept idle.
    let keep: Int
    private let group: MultiThreadedEventLoopGroup
    private let idle = Mutex<[PostgresConnection]>([])
    private let ids = Atomic<Int>(0)

    struct TimedOut: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "no answer within \(seconds) s" }
    }

    init(configuration: PostgresConnection.Configuration, timeout: Double, keep: Int = 16, logger: Logger) {
        self.configuration = configuration
        self.timeout = timeout
        self.keep = keep
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Runs `body` on a connection (an idle one, or a new one) and waits
    /// for its future, all within `timeout`.
    func run<T: Sendable>(timeout: Double? = nil, _ body: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>) throws -> T {
        let deadline = DispatchTime.now() + (timeout ?? self.timeout)
        let connection = try lease(until: deadline)
        do {
            let value = try wait(body(connection), until: deadline, closing: connection)
            release(connection)
            return value
        } catch {
            Self.close(connection)
            throw error
        }
    }

    /// Closes every idle connection and stops the event loop.
    func shutdown() {
        let all = idle.withLock { list in defer { list.removeAll() }; return list }
        for c in all { Self.close(c) }
        try? group.syncShutdownGracefully()
    }

    /// Closes without waiting (the EventLoopFuture form, not the async one).
    private static func close(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        // Kept until the channel is closed (PostgresNIO asserts that).
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private func lease(until deadline: DispatchTime) throws -> PostgresConnection {
        while let c = idle.withLock({ $0.popLast() }) {
            if !c.isClosed { return c }
        }
        let id = ids.add(1, ordering: .relaxed).newValue
        let future = PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger)
        do {
            return try wait(future, until: deadline, closing: nil)
        } catch let error as TimedOut {
            // Connected after all, too late: not kept.
            future.whenSuccess { Self.close($0) }
            throw error
        }
    }

    private func release(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        let kept = idle.withLock { list -> Bool in
            guard list.count < keep else { return false }
            list.append(connection)
            return true
        }
        if !kept { Self.close(connection) }
    }

    private func wait<T: Sendable>(_ future: EventLoopFuture<T>, until deadline: DispatchTime, closing connection: PostgresConnection?) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: deadline) == .success, let result = outcome.withLock({ $0 }) else {
            if let connection { Self.close(connection) }
            throw TimedOut(seconds: timeout)
        }
        return try result.get()
    }
}
