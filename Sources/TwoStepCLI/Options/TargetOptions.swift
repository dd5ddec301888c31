import ArgumentParser
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Whose factor file a command acts on, and where it is: on every command.
struct TargetOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Act on this user's factor file instead of your own (root only). Root needs no code to change another user's settings.",
            valueName: "name"))
    var user: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the factor file is: a path in which %u stands for the user name and %h for the home directory. Default: store= of /etc/twostep/twostep.conf, else %h/.twostep (the PAM module's default).",
            valueName: "template"))
    var store: String?

    func validate() throws {
        if user != nil && geteuid() != 0 {
            throw ValidationError("--user is for root only; without it twostep acts on your own factor file")
        }
        if let store {
            do { _ = try StorePathTemplate(store) } catch { throw ValidationError("--store: \(error)") }
        }
    }

    /// The user and the service that reaches their record (SPEC §8): an
    /// ordinary user whose store is administrator-managed (in a root-owned
    /// directory) goes through twostepd; root, and a store the user owns
    /// (the home directory), use the file directly. With store=twostepd
    /// (SPEC §9) everyone goes through twostepd, root naming `--user`. `channels`: a
    /// `--channels` given on the command line (the file path only:
    /// twostepd runs the plugins its configuration names).
    func resolve(channels: String? = nil) throws -> Target {
        let configuration = try SystemSettings.load()
        let account = try user.map { name throws(CLIError) in try Account.named(checked: name) } ?? Account.current()
        let template: StorePathTemplate
        if let store { template = try StorePathTemplate(store) } else { template = configuration.options.store }
        if template.isDaemon {
            // Fleet mode (SPEC §9): every record is twostepd's, for root too.
            guard configuration.options.store.isDaemon else {
                throw CLIError.usage("--store twostepd: twostep.conf keeps the records in files (store=\(configuration.options.store.template))")
            }
            if channels != nil {
                throw CLIError.usage("--channels: the records are twostepd's (store=twostepd), which runs the channel plugins of twostep.conf")
            }
            return Target(account: account, path: "twostepd: \(account.name)", isAdministrator: user != nil,
                          service: DaemonAccountService(socketDirectory: SystemSettings.socketDirectory(configuration), user: user),
                          viaDaemon: true)
        }
        let record = try AccountRecord.locate(account, template: template)
        let path = record.path
        if geteuid() != 0 && record.isManaged(by: template) {
            if channels != nil {
                throw CLIError.usage("--channels: \(path) is managed by twostepd, which runs the channel plugins of twostep.conf")
            }
            if template != configuration.options.store {
                throw CLIError.usage("--store: \(path) is managed by twostepd, which uses store= of twostep.conf (\(configuration.options.store.template))")
            }
            return Target(account: account, path: path, isAdministrator: false,
                          service: DaemonAccountService(socketDirectory: SystemSettings.socketDirectory(configuration)),
                          viaDaemon: true)
        }
        var settings = AccountSettings(options: configuration.options)
        if let channels { settings.channels = channels }
        return Target(account: account, path: path, isAdministrator: user != nil,
                      service: LocalAccountService(record: record, isAdministrator: user != nil, settings: settings,
                                                   sendCounter: SystemSettings.sendCounter(configuration)),
                      viaDaemon: false)
    }
}
