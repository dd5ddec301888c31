import ArgumentParser
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
        let target = try target.resolve()
        let file = try target.readEnabled()
        if !target.isAdministrator { try CodeCheck.refuseDuringLockout(file) }

        let uri = try key.makeKey(for: target.account)
        try NewAuthenticator.show(uri, qr: !key.noQR)
        let confirmed = try NewAuthenticator.confirm(
            TOTPAuthenticator(
                id: file.nextID(prefix: TOTPAuthenticator.idPrefix), secret: uri.secret,
                parameters: uri.parameters, label: key.label, created: Clock.now),
            code: newCode, flag: "--new-code")

        let check = try CodeCheck.obtain(
            for: target, file: file, given: code,
            question: "Enter a code from an authenticator you already had, or a backup code: ")
        let id = try target.change(authorizing: check) { file in
            var added = confirmed
            added.id = file.nextID(prefix: TOTPAuthenticator.idPrefix)
            file.factors.append(added)
            return added.id
        }
        Console.out("Added authenticator \(id) \"\(key.label)\".")
    }
}
