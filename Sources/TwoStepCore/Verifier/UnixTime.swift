/// The one rule for the Unix times a factor file holds and the decisions
/// made from them (issue 19, item 8): a file may hold only times from 0 to
/// `latest` (2^40 seconds, in the year 36812), so no sum of a stored time
/// and a policy's seconds can overflow; the arithmetic saturates anyway,
/// because `now` comes from the caller; and a stored time after `now` (a
/// clock stepped back since it was written) counts as `now`, so that it
/// never locks anyone out for longer than the policy says.
public enum UnixTime {
    /// The latest time a factor file may hold, Unix seconds (2^40).
    public static let latest: Int64 = 1 << 40
    /// The times a factor file may hold; the parser refuses any other
    /// value, naming the line.
    public static let range: ClosedRange<Int64> = 0...latest

    /// `time + seconds`, saturating at `Int64.min`/`Int64.max` instead of trapping.
    public static func adding(_ time: Int64, _ seconds: Int64) -> Int64 {
        let (sum, overflow) = time.addingReportingOverflow(seconds)
        return overflow ? (seconds > 0 ? .max : .min) : sum
    }

    /// `time - seconds`, saturating at `Int64.min`/`Int64.max` instead of trapping.
    public static func subtracting(_ time: Int64, _ seconds: Int64) -> Int64 {
        let (difference, overflow) = time.subtractingReportingOverflow(seconds)
        return overflow ? (seconds > 0 ? .min : .max) : difference
    }

    /// `days` days in seconds, saturating at `Int64.max` (and 0 for a negative count).
    public static func seconds(days: Int) -> Int64 {
        let (product, overflow) = Int64(clamping: max(days, 0)).multipliedReportingOverflow(by: 86_400)
        return overflow ? .max : product
    }

    /// `time`, or `now` when `time` is later: a time dated in the future
    /// counts as now.
    public static func clamped(_ time: Int64, to now: Int64) -> Int64 {
        min(time, now)
    }
}
