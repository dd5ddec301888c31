/// `recent=` (SPEC §12): whether a caller in a login session that passed
/// the second step lately gets through with no prompt. Pure: the record
/// of the session, the user's factor file and the time in, a decision out.
public struct StepUp: Sendable, Equatable {
    /// How long after the login's second step it counts, seconds (0: off).
    public var seconds: Int
    /// Which second step counts.
    public var factor: RecentFactor

    public init(seconds: Int, factor: RecentFactor) {
        self.seconds = seconds
        self.factor = factor
    }

    /// The allowed values of `recent=`.
    public static let range = 0...3600

    public enum Decision: Sendable, Equatable {
        /// Through with no prompt: the session's login passed `factor`
        /// `age` seconds ago.
        case allowed(factor: SessionFactor, age: Int64)
        /// The usual flow; `reason` is for the log.
        case usualFlow(reason: String)
        /// The usual flow, and the record no longer counts at all (the
        /// user's record changed since the login): the caller removes it.
        case ended(reason: String)
    }

    /// The decision for `user` (the account's own name and uid) given the
    /// session's record and the user's factor file at `now`.
    public func decide(record: SessionRecord, user: String, uid: UInt32, file: FactorFile, at now: Int64) -> Decision {
        guard record.user == user, record.uid == uid else { return .usualFlow(reason: "the session's record is for another user") }
        guard factor.admits(record.factor) else {
            return .usualFlow(reason: "the login passed \(record.factor.rawValue), recent_factor=\(factor.rawValue)")
        }
        let age = now - record.verified
        guard age >= -1 else { return .usualFlow(reason: "the session's verification is in the future (clock stepped back)") }
        guard age < Int64(seconds) else { return .usualFlow(reason: "the session's verification is \(age) s old (recent=\(seconds))") }
        // A reset or a disable leaves no file (the caller checks); a
        // re-enrolment (a factor made after the login), a lock-out or a
        // wrong code since the login ends the step-up for good. Wrong codes
        // count too: a lock-out that ran out is cleared by the next answer,
        // which leaves only its wrong code (`last`) on record.
        if file.factors.contains(where: { ($0.summary.created ?? Int64.min) > record.verified }) {
            return .ended(reason: "a factor was enrolled since the login")
        }
        if let until = file.failures.lockedUntil, until > record.verified {
            return .ended(reason: "the account was locked out since the login")
        }
        if file.failures.count > 0, let last = file.failures.last, last >= record.verified {
            return .ended(reason: "a wrong code was given for the account since the login")
        }
        guard file.isEnabled else { return .ended(reason: "the account has no factors left") }
        return .allowed(factor: record.factor, age: max(age, 0))
    }

    /// True when `service` starts login sessions (`sshd`, `login`, display
    /// managers): there `recent=` is ignored, since an sshd started from a
    /// shell would inherit that shell's session (so is it on a line with
    /// `remember_session`, whatever the service).
    public static func startsLoginSessions(service: String) -> Bool {
        if loginServices.contains(service) { return true }
        return displayManagerPrefixes.contains { service.hasPrefix($0) }
    }

    /// True when `service` runs inside a login session to raise or change
    /// privileges (`sudo`, `su`, `runuser`, `pkexec`, `doas`): such a line
    /// never leaves a session note nor makes or removes a session record,
    /// whatever its options.
    public static func raisesPrivileges(service: String) -> Bool {
        privilegeServices.contains(service)
    }

    static let loginServices: [String] = ["sshd", "login", "remote", "xdm", "kdm", "cockpit", "xrdp-sesman"]
    static let displayManagerPrefixes: [String] = ["gdm-", "lightdm", "sddm", "lxdm", "slim"]
    static let privilegeServices: [String] = ["sudo", "sudo-i", "su", "su-l", "runuser", "runuser-l", "pkexec",
                                              "polkit-1", "doas"]
}
