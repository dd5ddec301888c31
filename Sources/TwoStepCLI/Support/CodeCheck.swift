import TwoStepCore

/// The proof of identity asked for before an enabled user's settings
/// change (SPEC §4): a current code from an authenticator or an unused
/// backup code. Root acting with `--user` needs none.
///
/// The code is collected before the file is locked and checked by the
/// `Verifier` inside the same locked update as the change (see
/// `Target.change`), so a wrong code counts towards the lock-out exactly
/// as at a login, and an accepted one is spent.
struct CodeCheck {
    /// The answer to check; nil when none is needed.
    let answer: String?

    /// The policy a login uses by default (window 1, 5 failures, 300 s).
    static let verifier = Verifier(policy: .standard)

    /// Takes the code from `given` (a `--code` flag) or asks for it.
    /// Refuses at once during a lock-out, without asking.
    static func obtain(
        for target: Target, file: FactorFile, given: String?, flag: String = "--code",
        question: String = "Enter a code from your authenticator app or a backup code: "
    ) throws -> CodeCheck {
        if target.isAdministrator { return CodeCheck(answer: nil) }
        try refuseDuringLockout(file)
        return CodeCheck(answer: try given ?? Prompter.ask(question, flag: flag))
    }

    /// Throws when a lock-out is running.
    static func refuseDuringLockout(_ file: FactorFile) throws(CLIError) {
        if let until = verifier.lockout(in: file, at: Clock.now) {
            throw .refused(Self.message(for: .lockedOut(until: until)))
        }
    }

    /// Verifies the answer against `file` and updates its state; returns
    /// the refusal to report, or nil when the change may go ahead.
    func authorize(_ file: inout FactorFile, at now: Int64) -> CLIError? {
        guard let answer else { return nil }
        let result = Self.verifier.verify(answer, in: file, at: now)
        file = result.file
        if case .accepted(let acceptance) = result.decision {
            if let left = acceptance.backupCodesLeft { Console.error(Self.backupCodesLeft(left)) }
            return nil
        }
        return .refused(Self.message(for: result.decision))
    }

    /// What to tell the user about a refused code or a lock-out.
    static func message(for decision: Decision) -> String {
        switch decision {
        case .accepted:
            return "code accepted"
        case .refused(let refusal):
            var text = refusal.replay ? "that code was already used; wait for the next one" : "wrong code"
            if let until = refusal.lockedUntil {
                text += "; after \(refusal.failures) wrong codes in a row, codes are refused until \(Clock.local(until))"
            }
            return text
        case .lockedOut(let until):
            return "too many wrong codes: codes are refused until \(Clock.local(until)); no code was checked"
        }
    }

    /// `3 backup codes left.`, with a nudge when few remain.
    static func backupCodesLeft(_ n: Int) -> String {
        let text = "\(n) backup code\(n == 1 ? "" : "s") left."
        return n <= 2 ? text + " Run 'twostep codes' for a new set." : text
    }
}
