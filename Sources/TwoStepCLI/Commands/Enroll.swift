import ArgumentParser
import TwoStepCore
import TwoStepStore

/// `twostep enroll`: create the factor file.
struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn two-step verification on: set up an authenticator app and backup codes.",
        discussion: """
            Generates a secret (or takes --secret or --uri), shows it as a QR code, as an \
            otpauth:// URI and in Base32, and asks for the code the app then shows. Only \
            when that code is right is the factor file written, with the authenticator \
            and a set of backup codes, which are shown once: keep them somewhere safe. \
            The code used to confirm cannot be used again to log in.

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
        help: ArgumentHelp("How many one-time backup codes to make (1 to 100). A backup method is required.", valueName: "n"))
    var backupCodes = 10

    @Flag(help: "Replace an existing factor file: its authenticators, backup codes and trusted devices are lost.")
    var force = false

    @Option(
        name: .customLong("old-code"),
        help: ArgumentHelp("With --force: a code from the existing file (an authenticator or a backup code), asked for when not given.", valueName: "code"))
    var oldCode: String?

    @Flag(help: "Print the result as one JSON object {user, uri, secret, authenticator_id, backup_codes} on standard output, and no QR code.")
    var json = false

    func validate() throws {
        guard backupCodes >= 1 else {
            throw ValidationError("a backup method is required: --backup-codes must be at least 1")
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
            try authorizeReplacement(of: target)
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
                authenticatorID: authenticator.id, backupCodes: codes))
        } else {
            Console.out("Two-step verification is on for \(target.account.name).")
            Console.out()
            BackupCodeSet.show(codes)
        }
    }

    /// `--force` on a readable file with factors: a code from it first
    /// (spent, or counted as a failure), unless root acts with --user.
    private func authorizeReplacement(of target: Target) throws {
        guard !target.isAdministrator else { return }
        let old: FactorFile
        do {
            old = try target.read()
        } catch StoreError.corrupt(let path, let error) {
            Console.error("twostep: replacing \(path), which is corrupt (\(error))")
            return
        }
        guard old.isEnabled else { return }
        let check = try CodeCheck.obtain(
            for: target, file: old, given: oldCode, flag: "--old-code",
            question: "Enter a code from your current authenticator or a backup code: ")
        try target.change(authorizing: check) { _ in }
    }

    private struct Result: Encodable {
        var user: String
        var uri: String
        var secret: String
        var authenticatorID: String
        var backupCodes: [String]
    }
}
