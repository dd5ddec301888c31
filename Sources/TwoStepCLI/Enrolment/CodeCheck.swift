import TwoStepAccounts
import TwoStepCore

/// Asking for the code that authorises a change (SPEC §4): a current code
/// from an authenticator or an unused backup code. Root acting with
/// `--user` needs none.
///
/// The code is only collected here; the `AccountService` checks it with
/// TwoStepCore's `Verifier` inside the same locked update as the change,
/// so a wrong code counts towards the lock-out exactly as at a login, and
/// an accepted one is spent only when the change is made.
enum CodeCheck {
    /// The code from `given` (a `--code` flag) or asked for; nil for root
    /// acting on another user. Refuses at once during a lock-out, without asking.
    static func obtain(
        for target: Target, status: AccountStatus, given: String?, flag: String = "--code",
        question: String = "Enter a code from your authenticator app or a backup code: "
    ) throws -> String? {
        if target.isAdministrator { return nil }
        try refuseDuringLockout(status)
        return try given ?? Prompter.ask(question, flag: flag)
    }

    /// Throws when a lock-out is running.
    static func refuseDuringLockout(_ status: AccountStatus) throws(CLIError) {
        if let until = status.lockedUntil {
            throw .refused(LocalAccountService.message(for: .lockedOut(until: until)))
        }
    }

    /// Tells how many backup codes are left when one authorised the change.
    static func report(_ authorization: Authorization) {
        if let left = authorization.backupCodesLeft { Console.error(backupCodesLeft(left)) }
    }

    /// `3 backup codes left.`, with a nudge when few remain.
    static func backupCodesLeft(_ n: Int) -> String {
        let text = "\(n) backup code\(n == 1 ? "" : "s") left."
        return n <= 2 ? text + " Run 'twostep codes' for a new set." : text
    }
}
