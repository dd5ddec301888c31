import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What twostepd's database calls did since it started (SPEC §13, for
/// `twostepd --status`): how many, how many failed (refused, timed out,
/// or not tried while the database was known down), and their latency.
///
/// The latencies are kept in a histogram of logarithmic buckets (each 5 %
/// wider than the one before, from 10 µs), so the memory is fixed however
/// long twostepd runs; a percentile is its bucket's upper bound, within 5 %.
final class DatabaseMetrics: Sendable {
    /// A snapshot: counts and latency percentiles in milliseconds (nil
    /// before the first call).
    struct Snapshot: Sendable {
        var calls: Int
        var errors: Int
        var p50: Double?
        var p90: Double?
        var p99: Double?
        var max: Double?
    }

    private struct State {
        var calls = 0
        var errors = 0
        var buckets = [Int](repeating: 0, count: DatabaseMetrics.bucketCount)
        var slowest = 0.0
    }

    private static let smallest = 1e-5
    private static let growth = 1.05
    /// 10 µs × 1.05^400 ≈ 3 000 s: every wait twostepd allows fits.
    fileprivate static let bucketCount = 400
    private static let logGrowth = log(growth)

    private let state = Mutex(State())

    /// One call that took `seconds`; `failed` when it did not succeed.
    func record(seconds: Double, failed: Bool) {
        let bucket = seconds <= Self.smallest ? 0 : min(Self.bucketCount - 1, Int(log(seconds / Self.smallest) / Self.logGrowth) + 1)
        state.withLock { s in
            s.calls += 1
            if failed { s.errors += 1 }
            s.buckets[bucket] += 1
            s.slowest = Swift.max(s.slowest, seconds)
        }
    }

    func snapshot() -> Snapshot {
        let s = state.withLock { $0 }
        guard s.calls > 0 else { return Snapshot(calls: 0, errors: 0) }
        func percentile(_ p: Double) -> Double {
            let rank = Int((p * Double(s.calls)).rounded(.up))
            var seen = 0
            for (i, n) in s.buckets.enumerated() {
                seen += n
                if seen >= rank { return Swift.min(Self.upperBound(i), s.slowest) * 1000 }
            }
            return s.slowest * 1000
        }
        return Snapshot(calls: s.calls, errors: s.errors, p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: s.slowest * 1000)
    }

    /// The longest latency bucket `i` holds, in seconds.
    private static func upperBound(_ i: Int) -> Double {
        smallest * pow(growth, Double(i))
    }
}
