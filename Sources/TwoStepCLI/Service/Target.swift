import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The user a command acts on, and the service that reaches their record:
/// the factor file itself, or twostepd (`Target.reach` chooses, from
/// `RecordLocation`).
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
    /// The one way the CLI reaches `account`'s record in the store `template`
    /// names (`RecordLocation`): twostepd when the caller goes through it
    /// (fleet mode; an ordinary user of an administrator-managed store,
    /// SPEC §8), else the file itself. `named`: root acting on another
    /// account (`--user`, `report`, `setup sshd`): changes need no code.
    /// `channels`: a `--channels` given on the command line, which only a
    /// file reached directly can use (twostepd runs the plugins of its own
    /// configuration).
    static func reach(_ account: Account, template: StorePathTemplate, configuration: SystemConfiguration,
                      named: Bool, channels: String? = nil) throws -> Target {
        let location: RecordLocation
        do { location = try RecordLocation(of: account, in: template) } catch { throw AccountError(error) }
        let socketDirectory = SystemSettings.socketDirectory(configuration)
        let byRoot = geteuid() == 0
        switch location {
        case .file(let file) where !location.isReachedThroughTwostepd(byRoot: byRoot):
            var settings = AccountSettings(configuration: configuration)
            if let channels { settings.channels = channels }
            return Target(account: account, path: file.path, isAdministrator: named,
                          service: LocalAccountService(file: file, isAdministrator: named, settings: settings,
                                                       sendCounter: SystemSettings.sendCounter(configuration)),
                          viaDaemon: false)
        case .file(let file):
            // An ordinary user's record in an administrator-managed store: twostepd's to change (SPEC §8).
            if channels != nil {
                throw CLIError.usage("--channels: \(file.path) is managed by twostepd, which runs the channel plugins of twostep.conf")
            }
            if template != configuration.options.store {
                throw CLIError.usage("--store: \(file.path) is managed by twostepd, which uses store= of twostep.conf (\(configuration.options.store.template))")
            }
            return Target(account: account, path: file.path, isAdministrator: false,
                          service: DaemonAccountService(socketDirectory: socketDirectory), viaDaemon: true)
        case .twostepd:
            // Fleet mode (SPEC §9): every record is twostepd's, for root too.
            guard configuration.options.store.isDaemon else {
                throw CLIError.usage("--store twostepd: twostep.conf keeps the records in files (store=\(configuration.options.store.template))")
            }
            if channels != nil {
                throw CLIError.usage("--channels: the records are twostepd's (store=twostepd), which runs the channel plugins of twostep.conf")
            }
            return Target(account: account, path: location.description, isAdministrator: named,
                          service: DaemonAccountService(socketDirectory: socketDirectory, user: named ? account.name : nil),
                          viaDaemon: true)
        }
    }

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
