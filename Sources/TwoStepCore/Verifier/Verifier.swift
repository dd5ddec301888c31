/// What a verification decided.
public enum Decision: Sendable, Equatable {
    /// The answer was a valid code.
    case accepted(Acceptance)
    /// The answer was wrong (or a replay); the lock-out starts at `lockedUntil` when set.
    case refused(Refusal)
    /// A lock-out is running: no code was checked.
    case lockedOut(until: Int64)
}

/// Which factor accepted the code.
public struct Acceptance: Sendable, Equatable {
    public var kind: FactorKind
    public var factorID: String
    /// Backup codes left after this one, when a backup code was used.
    public var backupCodesLeft: Int?
}

/// Why an answer was refused (for logs; the user is told only "wrong code").
public struct Refusal: Sendable, Equatable {
    /// The code was one already used (a TOTP step at or before the last accepted one).
    public var replay: Bool
    /// Wrong codes in a row now.
    public var failures: Int
    /// Set when this refusal started a lock-out.
    public var lockedUntil: Int64?
}

/// The pure decision: given the parsed file, the time, the policy and the
/// user's answer, decide and compute the file's new state. No I/O: the
/// caller reads the file, calls this, and writes `file` back when `changed`.
public struct Verifier: Sendable {
    public var policy: VerificationPolicy

    public init(policy: VerificationPolicy = .standard) { self.policy = policy }

    /// The end of a running lock-out, or nil when codes may be tried. A
    /// lock-out stored as ending more than `lockoutSeconds` after `now` (a
    /// clock stepped back since it started) ends `lockoutSeconds` after
    /// `now`: `capLockout` stores that, so that it runs out.
    public func lockout(in file: FactorFile, at now: Int64) -> Int64? {
        guard let until = file.failures.lockedUntil else { return nil }
        let capped = min(until, UnixTime.adding(now, max(policy.lockoutSeconds, 0)))
        return now < capped ? capped : nil
    }

    /// Caps a running lock-out stored as ending beyond `lockoutSeconds`
    /// from `now` (see `lockout(in:at:)`); true when `file` changed.
    public func capLockout(in file: inout FactorFile, at now: Int64) -> Bool {
        guard let until = lockout(in: file, at: now), until != file.failures.lockedUntil else { return false }
        file.failures.lockedUntil = until
        return true
    }

    /// The outcome of one verification and the file as it must be stored.
    public struct Result: Sendable {
        public var decision: Decision
        public var file: FactorFile
        /// False when nothing needs writing (a lock-out refusal, unless the
        /// lock-out was capped).
        public var changed: Bool

        /// True when the change is verification state only — the step of an
        /// accepted TOTP code, the failure count, a lock-out — whose loss
        /// in a crash costs little: a code replayed inside its own window
        /// (which has run out by the time a crashed host is back), or a few
        /// more guesses. False when a code was spent (a backup code, and any
        /// other kind by default): that must survive a crash.
        public var changesStateOnly: Bool {
            switch decision {
            case .refused, .lockedOut: true
            case .accepted(let acceptance): acceptance.kind == .authenticator
            }
        }
    }

    /// The first factor that accepted the answer, and its new state.
    private struct Match {
        var index: Int
        var replacement: (any Factor)?
    }

    /// Checks `answer` against every factor in `file`.
    ///
    /// All factors are checked whatever the answer (no early exit), so the
    /// time does not tell which factor, if any, matched; a factor skips the
    /// work only for an answer not shaped like its codes (six digits, a
    /// backup code), which tells nothing the one who typed it does not know. During a lock-out
    /// nothing is checked. An accepted code resets the failure count and
    /// records `now` as the time of the last accepted code; a wrong
    /// or replayed one adds to it, and the `maxFailures`-th starts a lock-out.
    public func verify(_ answer: String, in file: FactorFile, at now: Int64) -> Result {
        if let until = lockout(in: file, at: now) {
            var capped = file
            let changed = capLockout(in: &capped, at: now)
            return Result(decision: .lockedOut(until: until), file: capped, changed: changed)
        }
        var updated = file
        if updated.failures.lockedUntil != nil {
            // The lock-out has run out: a fresh start.
            updated.failures = FailureState(lastAccepted: updated.failures.lastAccepted)
        }
        // A last step beyond the window (a clock stepped back) is stored
        // as the window's last step, whatever the answer.
        for (index, factor) in updated.factors.enumerated() {
            if let capped = (factor as? TOTPAuthenticator)?.cappingLastStep(at: now, window: policy.window) {
                updated.factors[index] = capped
            }
        }
        let checked = updated.factors
        let context = VerificationContext(now: now, window: policy.window)
        var match: Match?
        var replay = false
        for (index, factor) in checked.enumerated() {
            switch factor.check(answer, context: context) {
            case .accepted(let replacement):
                if match == nil { match = Match(index: index, replacement: replacement) }
            case .replayed:
                replay = true
            case .noMatch:
                break
            }
        }
        if let match {
            let factor = checked[match.index]
            if let replacement = match.replacement {
                updated.factors[match.index] = replacement
            } else {
                updated.factors.remove(at: match.index)
            }
            updated.failures = FailureState(lastAccepted: now)
            let left = factor is BackupCode ? updated.backupCodes.count : nil
            let acceptance = Acceptance(kind: factor.summary.kind, factorID: factor.id, backupCodesLeft: left)
            return Result(decision: .accepted(acceptance), file: updated, changed: true)
        }
        updated.failures.count += 1
        updated.failures.last = now
        var lockedUntil: Int64?
        if updated.failures.count >= policy.maxFailures {
            lockedUntil = UnixTime.adding(now, policy.lockoutSeconds)
            updated.failures.lockedUntil = lockedUntil
        }
        let refusal = Refusal(replay: replay, failures: updated.failures.count, lockedUntil: lockedUntil)
        return Result(decision: .refused(refusal), file: updated, changed: true)
    }
}
