import ArgumentParser
import TwoStepCore
import TwoStepAccounts
import TwoStepStore

/// `twostep enroll`: create the factor file.
struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn two-step verification on: set up an authenticator app and backup codes or a phone.",
        discussion: """
            Generates a secret (or takes --secret or --uri), shows it as a QR code, as an \
            otpauth:// URI and in Base32, and asks for the code the app then shows. Only \
            when that code is right is the factor file written, with the authenticator \
            and a set of backup codes, which are shown once: keep them somewhere safe. \
            The code used to confirm cannot be used again to log in.

            A backup method is required: backup codes (--backup-codes, 10 by default) \
            and/or a phone (--phone +NUMBER --channel sms|voice), which is confirmed by \
            sending it a code that must be typed back; with a phone, --backup-codes may be 0.

            An existing factor file is replaced only with --force. When it can be read \
            and has factors, a code from it is needed first (--old-code), unless root \
            acts with --user; a corrupt file is replaced without one.
            """)

    @OptionGroup var target: TargetOptions
    @OptionGroup var key: AuthenticatorOptions

    @Option(help: ArgumentHelp("The code the app shows now, to confirm it was set up right (asked for when not given). '-' reads it from standard input (one line, after the --secret - and --uri - lines).", valueName: "code"))
    var code: String?

    @Option(
        name: .customLong("backup-codes"),
        help: ArgumentHelp("How many one-time backup codes to make (1 to 100; 0 with --phone). A backup method is required.", valueName: "n"))
    var backupCodes = 10

    @Option(help: ArgumentHelp("A phone number with its region code (e.g. +966501234534) as a backup method; a code is sent to it to confirm it.", valueName: "+number"))
    var phone: String?

    @Option(help: ArgumentHelp("How codes reach the --phone: sms (the default) or voice.", valueName: "sms|voice"))
    var channel: ChannelKind = .sms

    @Option(name: .customLong("phone-label"), help: ArgumentHelp("A name for the --phone in twostep's listings.", valueName: "text"))
    var phoneLabel = "phone"

    @OptionGroup var channels: ChannelDirectoryOptions

    @Flag(help: "Replace an existing factor file: its authenticators, backup codes and trusted devices are lost.")
    var force = false

    @Option(
        name: .customLong("old-code"),
        help: ArgumentHelp("With --force: a code from the existing file (an authenticator or a backup code), asked for when not given.", valueName: "code"))
    var oldCode: String?

    @Flag(help: "Print the result as one JSON object {user, uri, secret, authenticator_id, backup_codes, phone_id} on standard output, and no QR code.")
    var json = false

    func validate() throws {
        if let phone {
            do { _ = try PhoneNumber(parsing: phone) } catch { throw ValidationError("--phone: \(error)") }
            // Checked before a code is sent; the service checks it again (twostepd too).
            if let problem = PrintableText.problem(inLabel: phoneLabel, what: "--phone-label") { throw ValidationError(problem) }
            guard backupCodes >= 0 else { throw ValidationError("--backup-codes must be 0 or more") }
        } else {
            guard backupCodes >= 1 else {
                throw ValidationError("a backup method is required: --backup-codes must be at least 1, or give --phone")
            }
        }
        guard backupCodes <= 100 else { throw ValidationError("--backup-codes must be at most 100") }
    }

    func run() throws {
        // Values given as `-` come first on standard input: secret, URI, code.
        var key = self.key
        try key.readStandardInput()
        var code = self.code
        if code == "-" { code = try Prompter.line(for: "--code") }
        let target = try target.resolve(channels: channels.directory)
        let oldCode = try target.replacementCode(force: force, given: oldCode)

        let uri = try key.makeKey(for: target.account)
        if !json { try NewAuthenticator.show(uri, qr: !key.noQR) }
        let confirmation = try NewAuthenticator.code(code, flag: "--code")
        var request = EnrollRequest(
            key: NewAuthenticator.request(uri, label: key.label), code: confirmation, backupCodes: backupCodes,
            force: force, oldCode: oldCode)
        if let phone {
            let number = try PhoneNumber(parsing: phone)
            request.phone = PhoneConfirmation.request(number, channel)
            request.phoneLabel = phoneLabel
            request.phoneConfirmation = try PhoneConfirmation.send(number, channel: channel, code: oldCode, enrolment: true, via: target.service)
        }
        let result = try target.service.enroll(request)
        if result.replacedCorrupt { Console.error("twostep: replaced \(target.path), which was corrupt") }
        CodeCheck.report(result.authorization)

        if json {
            try JSONOutput.print(Result(
                user: target.account.name, uri: uri.uri,
                secret: uri.secret.withUnsafeBytes { Base32.encode($0) },
                authenticatorID: result.authenticatorID, backupCodes: result.backupCodes, phoneID: result.phoneID))
        } else {
            Console.out("Two-step verification is on for \(target.account.name).")
            Console.out()
            if let phoneID = result.phoneID, let phone, let number = try? PhoneNumber(parsing: phone) {
                Console.out("Backup phone \(phoneID): \(channel == .sms ? "SMS" : "voice call") to \(number.masked). At a login, press Enter or type '?' at the code prompt to get a code.")
                Console.out()
            }
            if !result.backupCodes.isEmpty { BackupCodeSet.show(result.backupCodes) }
        }
    }

    private struct Result: Encodable {
        var user: String
        var uri: String
        var secret: String
        var authenticatorID: String
        var backupCodes: [String]
        var phoneID: String?
    }
}
