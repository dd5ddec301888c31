import ArgumentParser
import TwoStepCore
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
            "Where the factor file is: a path in which %u stands for the user name and %h for the home directory. Use the same value as the PAM module's store= option.",
            valueName: "template"))
    var store: String = StorePathTemplate.standard.template

    func validate() throws {
        if user != nil && geteuid() != 0 {
            throw ValidationError("--user is for root only; without it twostep acts on your own factor file")
        }
        do { _ = try StorePathTemplate(store) } catch { throw ValidationError("--store: \(error)") }
    }

    /// The user and their factor store.
    func resolve() throws -> Target {
        let account = try user.map { name throws(CLIError) in try Account.named(name) } ?? Account.current()
        let path = try StorePathTemplate(store).path(user: account.name, home: account.home)
        return Target(account: account, path: path, isAdministrator: user != nil)
    }
}
