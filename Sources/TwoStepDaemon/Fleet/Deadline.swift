import Dispatch
import Synchronization

/// Runs async work (a PostgresNIO query) from a synchronous caller — a
/// Varlink method on the server's thread pool, never an event loop —
/// and gives up after `seconds`: the caller gets `timedOut` then, however
/// long the work itself would have taken (a database that stopped
/// answering, a lock held elsewhere), and the work is cancelled.
enum Deadline {
    struct TimedOut: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "no answer within \(seconds) s" }
    }

    static func run<T: Sendable>(seconds: Double, _ work: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else {
            task.cancel()
            throw TimedOut(seconds: seconds)
        }
        guard let result = outcome.withLock({ $0 }) else { throw TimedOut(seconds: seconds) }
        return try result.get()
    }
}
