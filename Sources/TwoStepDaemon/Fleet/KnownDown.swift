import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// "Known down" (SPEC §13): once a database call got no answer in time,
/// the calls of the next `window` seconds do not wait for it again; they
/// fail at once, as `Down`, and `offline=` decides (deny, or the cached
/// copy). Meanwhile one probe at a time tries the database in the
/// background; its first success (or any call's) ends it. A probe that
/// times out too starts the window again.
///
/// The change each way is logged once, not per call.
final class KnownDown: Sendable {
    /// How long after a time-out calls go straight to `offline=`.
    static let window = 5.0
    /// The pause between two probes that failed without waiting (a
    /// refused connection).
    static let probePause = 0.5

    /// The database is known down: the call was not tried.
    struct Down: Error, CustomStringConvertible {
        let seconds: Int
        var description: String {
            "the database is known to be down (no answer for \(seconds) s; calls are not tried for \(Int(KnownDown.window)) s after a time-out while twostepd probes it)"
        }
    }

    private struct State {
        var down = false
        /// Since when (uptime, ns).
        var since: UInt64 = 0
        /// Until when calls fail at once (uptime, ns).
        var fastUntil: UInt64 = 0
        var probing = false
        var stopped = false
    }

    private let state = Mutex(State())
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Throws `Down` when calls are not to be tried now.
    func check() throws(Down) {
        let now = DispatchTime.now().uptimeNanoseconds
        let since: UInt64? = state.withLock { s in s.down && now < s.fastUntil ? s.since : nil }
        if let since { throw Down(seconds: Int((now - since) / 1_000_000_000)) }
    }

    /// A call (or a probe) got no answer in time: known down from now for
    /// `window` seconds. Returns true when it was not down before (the
    /// caller then starts the probe).
    func timedOut(_ reason: String) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        let wasUp = state.withLock { s -> Bool in
            defer {
                if !s.down { s.since = now }
                s.down = true
                s.fastUntil = now + UInt64(Self.window * 1e9)
            }
            return !s.down
        }
        if wasUp {
            logger.error("database: known down: \(reason); for \(Int(Self.window)) s after each time-out, calls go straight to offline= while one probe at a time tries it")
        }
        return wasUp
    }

    /// A call (or a probe) was answered: back to normal, logged once.
    func answered() {
        let now = DispatchTime.now().uptimeNanoseconds
        let since: UInt64? = state.withLock { s in
            guard s.down else { return nil }
            s.down = false
            return s.since
        }
        if let since {
            let tenths = (now - since) / 100_000_000
            logger.notice("database: answering again after \(tenths / 10).\(tenths % 10) s known down")
        }
    }

    var isDown: Bool { state.withLock { $0.down } }

    /// Runs `probe` on a background queue until it succeeds, one at a
    /// time; a probe already running is left to run.
    func startProbing(_ probe: @escaping @Sendable () -> Bool) {
        let start = state.withLock { s -> Bool in
            guard !s.probing, !s.stopped else { return false }
            s.probing = true
            return true
        }
        guard start else { return }
        DispatchQueue.global().async {
            while true {
                if self.state.withLock({ !$0.down || $0.stopped }) { break }
                if probe() { break }
                usleep(UInt32(Self.probePause * 1e6))
            }
            self.state.withLock { $0.probing = false }
        }
    }

    /// No more probes (the daemon is stopping).
    func stop() {
        state.withLock { $0.stopped = true }
    }
}
