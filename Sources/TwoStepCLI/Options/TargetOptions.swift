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

    /// The user and the service that reaches their record (`Target.reach`):
    /// the caller's own account, or `--user`'s for root; the store `--store`
    /// names, else twostep.conf's. `channels`: a `--channels` given on the
    /// command line.
    func resolve(channels: String? = nil) throws -> Target {
        let configuration = try SystemSettings.load()
        let account = try user.map { name throws(CLIError) in try Account.named(checked: name) } ?? Account.current()
        let template: StorePathTemplate
        if let store { template = try StorePathTemplate(store) } else { template = configuration.options.store }
        return try Target.reach(account, template: template, configuration: configuration, named: user != nil, channels: channels)
    }
}
