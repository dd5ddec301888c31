import ArgumentParser
import TwoStepAccounts
import TwoStepCore

/// `twostep add totp`: another authenticator app.
struct AddTOTP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totp",
        abstract: "Add another authenticator app (a second phone, a password manager).",
        discussion: """
            Shows the new key (QR code, otpauth:// URI, Base32) and asks for a code from \
            the new app to confirm it (--new-code), then for a code from a method you \
            already have — an authenticator or a backup code — to authorize the change \
            (--code; not needed for root with --user). Both are checked before anything \
            is saved; a wrong authorizing code counts towards the lock-out.
            """)

    @OptionGroup var target: TargetOptions
    @OptionGroup var key: AuthenticatorOptions

    @Option(
        name: .customLong("new-code"),
        help: ArgumentHelp("The code the new app shows now, to confirm it (asked for when not given).", valueName: "code"))
    var newCode: String?

    @Option(help: ArgumentHelp("A valid code from an existing authenticator or a backup code, to authorize the change (asked for when not given).", valueName: "code"))
    var code: String?

    func run() throws {
        var key = self.key
        try key.readStandardInput()
        let target = try target.resolve()
        let status = try target.enabledStatus()
        if !target.isAdministrator { try CodeCheck.refuseDuringLockout(status) }

        let uri = try key.makeKey(for: target.account)
        try NewAuthenticator.show(uri, qr: !key.noQR)
        let confirmation = try NewAuthenticator.code(newCode, flag: "--new-code")
        let authorizing = try CodeCheck.obtain(
            for: target, status: status, given: code,
            question: "Enter a code from an authenticator you already had, or a backup code: ")
        let added = try target.service.addAuthenticator(AddAuthenticatorRequest(
            key: NewAuthenticator.request(uri, label: key.label), newCode: confirmation, code: authorizing))
        CodeCheck.report(added.authorization)
        Console.out("Added authenticator \(added.id) \"\(key.label)\".")
    }
}
