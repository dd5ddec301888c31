import ArgumentParser
import TwoStepCore
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

    @Option(help: ArgumentHelp("The code the app shows now, to confirm it was set up right (asked for when not given).", valueName: "code"))
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
            guard backupCodes >= 0 else { throw ValidationError("--backup-codes must be 0 or more") }
        } else {
            guard backupCodes >= 1 else {
                throw ValidationError("a backup method is required: --backup-codes must be at least 1, or give --phone")
            }
        }
        guard backupCodes <= 100 else { throw ValidationError("--backup-codes must be at most 100") }
    }

    func run() throws {
        let target = try target.resolve()
        let replacing = try target.access { try $0.exists() }
        if replacing {
            guard force else {
                throw CLIError.usage(
                    "\(target.path) already exists: two-step verification is already set up for \(target.account.name). Use --force to replace it")
            }
            try target.authorizeReplacement(oldCode: oldCode)
        }

        let uri = try key.makeKey(for: target.account)
        if !json { try NewAuthenticator.show(uri, qr: !key.noQR) }
        let now = Clock.now
        let authenticator = try NewAuthenticator.confirm(
            TOTPAuthenticator(
                id: FactorFile().nextID(prefix: TOTPAuthenticator.idPrefix), secret: uri.secret,
                parameters: uri.parameters, label: key.label, created: now),
            code: code, flag: "--code")

        var file = FactorFile(factors: [authenticator])
        var phoneID: String?
        if let phone {
            let number = try PhoneNumber(parsing: phone)
            try PhoneConfirmation.confirm(number, channel: channel, user: target.account.name, channels: channels.directory)
            let added = Phone(id: file.nextID(prefix: Phone.idPrefix), number: number, channel: channel, label: phoneLabel, created: now)
            file.factors.append(added)
            SendPolicy.standard.record(&file.sends, at: now)
            phoneID = added.id
        }
        let codes = try BackupCodeSet.replace(in: &file, count: backupCodes, at: now)
        do {
            try target.access { store in
                if replacing { try store.overwrite(with: file) } else { try store.create(file) }
            }
        } catch StoreError.alreadyExists {
            throw CLIError.usage("\(target.path) was created meanwhile; use --force to replace it")
        }

        if json {
            try JSONOutput.print(Result(
                user: target.account.name, uri: uri.uri,
                secret: uri.secret.withUnsafeBytes { Base32.encode($0) },
                authenticatorID: authenticator.id, backupCodes: codes, phoneID: phoneID))
        } else {
            Console.out("Two-step verification is on for \(target.account.name).")
            Console.out()
            if let phoneID, let added = file.phones.first(where: { $0.id == phoneID }) {
                Console.out("Backup phone \(phoneID): \(added.menuText). At a login, press Enter or type '?' at the code prompt to get a code.")
                Console.out()
            }
            if !codes.isEmpty { BackupCodeSet.show(codes) }
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
