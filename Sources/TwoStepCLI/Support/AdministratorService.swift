import TwoStepAccounts
import TwoStepCore
import TwoStepStore

/// The service root uses on another account's record, for the commands that
/// go over many accounts (`report`, `setup sshd --enforce`): the file that
/// `template` names, or twostepd with store=twostepd (SPEC §9), as
/// `--user NAME` would reach it.
enum AdministratorService {
    static func service(for account: UserAccount, template: StorePathTemplate,
                        configuration: SystemConfiguration) throws -> any AccountService {
        if template.isDaemon {
            return DaemonAccountService(socketDirectory: SystemSettings.socketDirectory(configuration), user: account.name)
        }
        let record = try AccountRecord.locate(account, template: template)
        return LocalAccountService(record: record, isAdministrator: true, settings: AccountSettings(options: configuration.options),
                                   sendCounter: SystemSettings.sendCounter(configuration))
    }
}
