/// When codes were last sent to the user's phones: the state behind the
/// send limit, kept in the factor file so the limit holds across logins,
/// processes and the CLI.
///
/// File line (at most one): `sends times=T1,T2,…` (Unix seconds, oldest
/// first; only sends still inside the window are kept).
public struct SendLog: Sendable, Equatable {
    public static let keyword = "sends"
    /// More are refused when reading: the limit is at most 100.
    static let maxTimes = 1000

    public var times: [Int64]

    public init(times: [Int64] = []) { self.times = times }

    public var isEmpty: Bool { times.isEmpty }

    init(_ line: FactorLine) throws(TwoStepError) {
        var r = FactorLineReader(line)
        let text = try r.required("times")
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= Self.maxTimes else { throw r.error("more than \(Self.maxTimes) times") }
        var times = [Int64]()
        for part in parts {
            guard !part.isEmpty, part.count <= 19, part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let t = Int64(part), UnixTime.range.contains(t) else {
                throw r.error("times must be Unix times from 0 to \(UnixTime.latest) separated by commas")
            }
            times.append(t)
        }
        self.times = times
        try r.finish()
    }

    var line: FactorLine {
        var r = FactorLine(keyword: Self.keyword)
        r.append("times", times.map { String($0) }.joined(separator: ","))
        return r
    }
}

/// How many codes may be sent to a user's phones in a sliding window
/// (module options `send_limit=` and `send_window=`), so nobody can bomb a
/// phone by pressing Enter at a login prompt.
public struct SendPolicy: Sendable, Equatable {
    /// Sends allowed per window (below 1 counts as 1).
    public var limit: Int
    /// The window, seconds.
    public var window: Int64

    /// 3 codes per 15 minutes.
    public static let standard = SendPolicy(limit: 3, window: 900)
    public static let limitRange = 1...100
    public static let windowRange = 60...86_400

    public init(limit: Int, window: Int64) {
        self.limit = limit
        self.window = window
    }

    /// Nil when a code may be sent at `now`; otherwise the time from which
    /// the next one may, at most `window` seconds after `now`. Sends dated
    /// in the future (a clock set back) count as sent now.
    public func nextAllowed(after log: SendLog, at now: Int64) -> Int64? {
        let recent = recentTimes(in: log, at: now)
        let limit = max(self.limit, 1)
        guard recent.count >= limit else { return nil }
        return max(UnixTime.adding(recent[recent.count - limit], window), UnixTime.adding(now, 1))
    }

    /// Records a send at `now` and forgets sends that left the window; a
    /// send dated in the future is kept as sent now.
    public func record(_ log: inout SendLog, at now: Int64) {
        log.times = recentTimes(in: log, at: now) + [now]
    }

    /// The sends inside the window at `now`, oldest first, future ones as `now`.
    private func recentTimes(in log: SendLog, at now: Int64) -> [Int64] {
        let start = UnixTime.subtracting(now, window)
        return log.times.lazy.map { UnixTime.clamped($0, to: now) }.filter { $0 > start }.sorted()
    }
}
