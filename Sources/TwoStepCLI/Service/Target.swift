import TwoStepAccounts
import TwoStepCore
import TwoStepStore

/// The user a command acts on, and the service that reaches their record:
/// the factor file itself, or twostepd (`TargetOptions.resolve` chooses).
struct Target {
    let account: Account
    /// The record's path as this host's store template gives it.
    let path: String
    /// Root acting with `--user`: changes need no code.
    let isAdministrator: Bool
    let service: any AccountService
    /// True when twostepd does the work (an ordinary user of an
    /// administrator-managed store).
    let viaDaemon: Bool

    /// The status, insisting that two-step verification is on.
    func enabledStatus() throws -> AccountStatus {
        let status = try service.status()
        guard status.enabled else {
            guard status.exists else { throw AccountError(StoreError.notEnrolled(path: status.path)) }
            throw CLIError.refused(
                "\(status.path) holds no authenticator or backup code: two-step verification is off for \(account.name); run 'twostep enroll'")
        }
        return status
    }
}

extension Target {
    /// `enroll --force` / `import --force` over a record that has factors:
    /// a code from it (asked before anything new is shown), unless root
    /// acts with `--user`. A record that cannot be read is left to the
    /// service (a corrupt one is replaced without a code, an unsafe one
    /// refused). Without `force` an existing record is a usage error.
    func replacementCode(force: Bool, given: String?) throws -> String? {
        let status: AccountStatus
        do { status = try service.status() } catch {
            if force { return nil }
            throw error
        }
        guard status.exists else { return nil }
        guard force else {
            throw CLIError.usage(
                "\(status.path) already exists: two-step verification is already set up for \(account.name). Use --force to replace it")
        }
        guard status.enabled else { return nil }
        return try CodeCheck.obtain(
            for: self, status: status, given: given, flag: "--old-code",
            question: "Enter a code from your current authenticator or a backup code: ")
    }
}
