import ArgumentParser
import TwoStepAccounts

/// `twostep remove ID`: drop an authenticator or a phone.
struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an authenticator app or a phone (see 'twostep status' for the ids).",
        discussion: """
            The last authenticator or phone cannot be removed: use 'twostep disable' to turn \
            two-step verification off, or add the new one first ('twostep add totp', \
            'twostep add phone'). Backup codes are replaced as a set with 'twostep codes'. \
            Removing a phone also voids any code sent to it.
            """)

    @OptionGroup var target: TargetOptions

    @Argument(help: ArgumentHelp("The id of the authenticator or phone, e.g. totp-2 or phone-1.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func run() throws {
        let target = try target.resolve()
        let status = try target.enabledStatus()
        // Checked before a code is asked for (and again, under the lock, by the service).
        let methods = status.authenticators.map(\.id) + status.phones.map(\.id)
        guard methods.contains(id) else {
            throw CLIError.usage("there is no authenticator or phone with id '\(id)'; 'twostep status' lists them (backup codes are replaced as a set with 'twostep codes')")
        }
        guard methods.count > 1 else {
            throw CLIError.usage("'\(id)' is your only authenticator or phone. To turn two-step verification off use 'twostep disable'; to replace it, 'twostep add totp' or 'twostep add phone' first")
        }
        let authorizing = try CodeCheck.obtain(for: target, status: status, given: code)
        CodeCheck.report(try target.service.remove(RemoveRequest(id: id, code: authorizing)))
        Console.out("Removed \(id).")
    }
}
