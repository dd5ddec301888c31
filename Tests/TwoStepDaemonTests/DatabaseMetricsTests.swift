import Testing
@testable import TwoStepDaemon

/// `twostepd --status`'s counts and latency percentiles (SPEC §13).
@Suite struct DatabaseMetricsTests {
    @Test func countsAndPercentilesWithinTheirBucket() {
        let metrics = DatabaseMetrics()
        #expect(metrics.snapshot().calls == 0 && metrics.snapshot().p50 == nil)
        // 98 calls of 1 ms, one of 10 ms, one failed after 2 s.
        for _ in 0..<98 { metrics.record(seconds: 0.001, failed: false) }
        metrics.record(seconds: 0.010, failed: false)
        metrics.record(seconds: 2.0, failed: true)
        let s = metrics.snapshot()
        #expect(s.calls == 100 && s.errors == 1)
        let p50 = try! #require(s.p50), p99 = try! #require(s.p99), max = try! #require(s.max)
        #expect(p50 >= 1.0 && p50 <= 1.05, "\(p50)")
        #expect(p99 >= 10.0 && p99 <= 10.5, "\(p99)")
        #expect(max == 2000)
    }

    @Test func theSynchronousStandbyIsToldFromTheSettingsAndTheStates() {
        typealias S = DatabaseStatus.Standby
        #expect(DatabaseStatus.synchronous(names: "", commit: "on", standbys: [S(name: "a", state: "streaming", syncState: "async")]) == false)
        #expect(DatabaseStatus.synchronous(names: "*", commit: "on", standbys: [S(name: "a", state: "streaming", syncState: "sync")]) == true)
        #expect(DatabaseStatus.synchronous(names: "ANY 1 (a, b)", commit: "remote_apply", standbys: [S(name: "a", state: "streaming", syncState: "quorum")]) == true)
        #expect(DatabaseStatus.synchronous(names: "*", commit: "local", standbys: [S(name: "a", state: "streaming", syncState: "sync")]) == false)
        #expect(DatabaseStatus.synchronous(names: "*", commit: "on", standbys: []) == false)  // commits wait for none
        #expect(DatabaseStatus.synchronous(names: "*", commit: "on", standbys: [S(name: "a", state: nil, syncState: nil)]) == nil)
    }
}
