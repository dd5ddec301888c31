import ArgumentParser
import TwoStepAccounts

/// `twostep remove ID`: drop an authenticator, a phone or a security key.
struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an authenticator app, a phone or a security key (see 'twostep status' for the ids).",
        discussion: """
            The last authenticator or phone cannot be removed: use 'twostep disable' to turn \
            two-step verification off, or add the new one first ('twostep add totp', \
            'twostep add phone'). Backup codes are replaced as a set with 'twostep codes'. \
            Removing a phone also voids any code sent to it. While security keys are \
            enrolled, the last backup method (backup codes, or a second phone) cannot be \
            removed either; a security key itself can always be removed.
            """)

    @OptionGroup var target: TargetOptions

    @Argument(help: ArgumentHelp("The id of the authenticator, phone or security key, e.g. totp-2, phone-1 or key-1.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func run() throws {
        let target = try target.resolve()
        let status = try target.enabledStatus()
        // Checked before a code is asked for (and again, under the lock, by the service).
        let methods = status.authenticators.map(\.id) + status.phones.map(\.id)
        guard methods.contains(id) || status.securityKeys.contains(where: { $0.id == id }) else {
            throw CLIError.usage("there is no authenticator, phone or security key with id '\(id)'; 'twostep status' lists them (backup codes are replaced as a set with 'twostep codes')")
        }
        guard !methods.contains(id) || methods.count > 1 else {
            throw CLIError.usage("'\(id)' is your only authenticator or phone. To turn two-step verification off use 'twostep disable'; to replace it, 'twostep add totp' or 'twostep add phone' first")
        }
        let authorizing = try CodeCheck.obtain(for: target, status: status, given: code)
        CodeCheck.report(try target.service.remove(RemoveRequest(id: id, code: authorizing)))
        Console.out("Removed \(id).")
    }
}
