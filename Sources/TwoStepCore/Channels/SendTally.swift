/// What root keeps about the codes sent for one account or to one number
/// (SPEC §5), where the user cannot reset it: not in the user's record,
/// which re-enrolment, import and disable replace, and never in a file the
/// user owns. One tally per account (`pw_name`) and one per number; a send
/// goes out only when both allow it (`SendPolicy.admit`).
///
/// An account's tally also lists the numbers confirmed for it through a
/// root-owned path (`twostep add phone` by root or through twostepd): for
/// a store in the home directory, where the user can write any `phone`
/// line, only those are sent to.
///
/// Text (twostep-factors(5), "send tallies"), one line each, every line
/// optional:
///
///     twostep-sends 1
///     sends times=1764221000,1764221300
///     confirmed number=+966501234534 time=1764220000
public struct SendTally: Sendable, Equatable {
    public static let header = "twostep-sends 1"
    /// More confirmed numbers are refused when reading.
    static let maxConfirmed = 100

    public var sends: SendLog
    /// Numbers confirmed through a root-owned path, with when.
    public var confirmed: [(number: PhoneNumber, time: Int64)]

    public init(sends: SendLog = SendLog(), confirmed: [(number: PhoneNumber, time: Int64)] = []) {
        self.sends = sends
        self.confirmed = confirmed
    }

    public static func == (a: SendTally, b: SendTally) -> Bool {
        a.sends == b.sends && a.confirmed.map(\.number) == b.confirmed.map(\.number)
            && a.confirmed.map(\.time) == b.confirmed.map(\.time)
    }

    /// Whether `number` was confirmed through a root-owned path.
    public func isConfirmed(_ number: PhoneNumber) -> Bool {
        confirmed.contains { $0.number == number }
    }

    /// Records that `number` was confirmed at `time` (once: a number
    /// confirmed again keeps its first time).
    public mutating func confirm(_ number: PhoneNumber, at time: Int64) {
        guard !isConfirmed(number) else { return }
        if confirmed.count >= Self.maxConfirmed { confirmed.removeFirst() }
        confirmed.append((number, time))
    }

    /// Parses a tally; empty text is an empty tally. Strict as the factor
    /// file's parser: an unknown line, version or field is an error naming
    /// the line.
    public init(parsing bytes: [UInt8]) throws(TwoStepError) {
        self.init()
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformedFile(line: 1, reason: "not UTF-8 text")
        }
        var sawSends = false
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            if number == 1 {
                guard line == Self.header else { throw .malformedFile(line: 1, reason: "expected '\(Self.header)'") }
                continue
            }
            let parsed = try FactorLine(parsing: line, line: number)
            if parsed.hasKeyword(SendLog.keyword) {
                guard !sawSends else { throw .malformedFile(line: number, reason: "a second 'sends' line") }
                sawSends = true
                sends = try SendLog(parsed)
            } else if parsed.hasKeyword("confirmed") {
                guard confirmed.count < Self.maxConfirmed else {
                    throw .malformedFile(line: number, reason: "more than \(Self.maxConfirmed) confirmed numbers")
                }
                var r = FactorLineReader(parsed)
                let phone: PhoneNumber
                do { phone = try PhoneNumber(parsing: try r.required("number")) } catch {
                    throw r.error("number must be an E.164 number")
                }
                let time = try r.integer("time", in: UnixTime.range)
                try r.finish()
                confirmed.append((phone, time))
            } else {
                throw .malformedFile(line: number, reason: "unknown line '\(parsed.keyword)'")
            }
        }
    }

    /// The tally's text, ending with a newline.
    public var text: String {
        var lines = [Self.header]
        if !sends.isEmpty { lines.append(sends.line.text) }
        for entry in confirmed {
            var r = FactorLine(keyword: "confirmed")
            r.append("number", entry.number.e164)
            r.append("time", entry.time)
            lines.append(r.text)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension SendPolicy {
    /// One send for an account to a number, against both tallies' logs:
    /// nil when it may go (and then it is recorded in both), otherwise the
    /// time from which the next one may (nothing is recorded).
    public func admit(account: inout SendLog, number: inout SendLog, at now: Int64) -> Int64? {
        let waits = [nextAllowed(after: account, at: now), nextAllowed(after: number, at: now)].compactMap { $0 }
        if let until = waits.max() { return until }
        record(&account, at: now)
        record(&number, at: now)
        return nil
    }
}
