/// What a login decided from twostepd's cached copy of a record may change
/// while the fleet's database is unreachable (`offline=cached`, SPEC §9),
/// and how that change is merged into the database's record once it is
/// back. Pure: records in, records out.
///
/// Offline, only authenticator codes count: the change from the cached
/// record to the new one may move TOTP authenticators' last accepted
/// steps forward and change the failure state (a wrong code, a lock-out,
/// an accepted code's time), nothing else — a spent backup code, a sent
/// code, a trusted device or an enrolment is refused until the database
/// answers.
public struct OfflineChange: Sendable, Equatable {
    /// The steps accepted, by authenticator id.
    public var steps: [String: UInt64]
    /// Wrong codes given.
    public var failures: Int
    /// When a code was accepted, nil if none was.
    public var accepted: Int64?
    /// When the change was made.
    public var time: Int64

    public init(steps: [String: UInt64] = [:], failures: Int = 0, accepted: Int64? = nil, time: Int64) {
        self.steps = steps
        self.failures = failures
        self.accepted = accepted
        self.time = time
    }

    /// The change from `old` to `new`, or nil when `new` differs from `old`
    /// in anything but what an offline login may change.
    public init?(from old: FactorFile, to new: FactorFile, at time: Int64) {
        var probe = new
        var steps: [String: UInt64] = [:]
        for (index, factor) in new.factors.enumerated() {
            guard var totp = factor as? TOTPAuthenticator else { continue }
            let before = (old.factors.first { $0.id == totp.id } as? TOTPAuthenticator)?.lastStep
            if let step = totp.lastStep, step != before {
                guard before.map({ step > $0 }) ?? true else { return nil }
                steps[totp.id] = step
            }
            totp.lastStep = before
            probe.factors[index] = totp
        }
        probe.failures = old.failures
        guard probe.text == old.text else { return nil }
        self.steps = steps
        self.time = time
        let accepted = new.failures.lastAccepted.flatMap { $0 != old.failures.lastAccepted ? $0 : nil }
        self.accepted = accepted
        // A wrong code adds one; an accepted code resets the count (the
        // wrong codes before it on this host were journalled as they came).
        failures = accepted == nil ? max(0, new.failures.count - old.failures.count) : 0
    }

    /// Merges the change into the database's record: the highest step
    /// wins, failures add up (and the policy's lock-out follows from the
    /// sum), the later accepted time wins. Returns the ids of the
    /// authenticators whose step the database already had at or beyond
    /// the one accepted offline: a code (or a later one) used elsewhere too.
    public func merge(into file: inout FactorFile, policy: VerificationPolicy) -> [String] {
        var conflicts: [String] = []
        for (index, factor) in file.factors.enumerated() {
            guard var totp = factor as? TOTPAuthenticator, let step = steps[totp.id] else { continue }
            if let current = totp.lastStep, current >= step {
                conflicts.append(totp.id)
                continue
            }
            totp.lastStep = step
            file.factors[index] = totp
        }
        if let accepted, accepted > (file.failures.lastAccepted ?? .min) { file.failures.lastAccepted = accepted }
        if failures > 0 {
            file.failures.count += failures
            file.failures.last = max(file.failures.last ?? .min, time)
            if file.failures.count >= policy.maxFailures, file.failures.lockedUntil == nil {
                file.failures.lockedUntil = UnixTime.adding(time, policy.lockoutSeconds)
            }
        }
        return conflicts.sorted()
    }
}
