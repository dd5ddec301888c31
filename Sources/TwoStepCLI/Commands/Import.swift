import ArgumentParser
import TwoStepCore
import TwoStepAccounts
import TwoStepStore

/// `twostep import`: migrate from another tool.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Migrate from another two-step verification tool.",
        subcommands: [ImportGoogleAuthenticator.self])
}

/// `twostep import google-authenticator`: turn a `~/.google_authenticator`
/// file into a twostep factor file. The secret does not change, so the
/// phone app keeps working and no code is asked for.
struct ImportGoogleAuthenticator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "google-authenticator",
        abstract: "Import a ~/.google_authenticator file: its secret, step size and unused scratch codes.",
        discussion: """
            Reads the file google-authenticator(1) wrote (by default ~/.google_authenticator \
            of the user) and writes the twostep factor file: one authenticator app with the \
            same secret and step size (the app on the phone keeps working unchanged), and \
            each unused scratch code as a backup code (stored hashed; each works once). When \
            the file has no scratch codes, a new set of backup codes is made and shown once. \
            Then it prints what was carried over and what was not: WINDOW_SIZE becomes the \
            module's window= option, RATE_LIMIT twostep's lock-out (max_failures=, \
            lockout=); twostep always refuses a code used before, and does not learn clock \
            skew.

            The file is only read, never changed: remove it once logins work with \
            pam_twostep. Like google-authenticator, twostep refuses a file that is a \
            symbolic link, is not owned by the user, or can be read by group or others, \
            and a counter-based (HOTP) file: twostep supports time-based codes only. A \
            malformed file is refused and nothing is written (exit status 3).

            No code is needed, since the secret does not change. An existing twostep factor \
            file is replaced only with --force, and then, as with enroll, a code from it is \
            needed first (--old-code) unless root acts with --user.
            """)

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp(
        "The google-authenticator file to read (default: .google_authenticator in the user's home directory).",
        valueName: "path"))
    var file: String?

    @Option(help: ArgumentHelp("A name for the authenticator, shown by status.", valueName: "label"))
    var label = "google-authenticator"

    @Flag(help: "Replace an existing twostep factor file: its authenticators, backup codes and trusted devices are lost.")
    var force = false

    @Option(
        name: .customLong("old-code"),
        help: ArgumentHelp("With --force: a code from the existing twostep file, asked for when not given.", valueName: "code"))
    var oldCode: String?

    /// New backup codes made when the google-authenticator file has none.
    static let newBackupCodes = 10

    func run() throws {
        let target = try target.resolve()
        let path = file ?? (target.account.home == "/" ? "" : target.account.home) + "/.google_authenticator"

        // Read (as the user: their own file, with their rights) and check
        // everything before the twostep record is touched.
        let text = try FileSystemIdentity.run(uid: target.account.uid, gid: target.account.gid) {
            try GoogleAuthenticatorFile.read(path: path, owner: target.account.uid)
        }
        let old: GoogleAuthenticatorFile
        do {
            old = try GoogleAuthenticatorFile(parsing: text)
        } catch {
            throw CLIError.failure("\(path): \(error); nothing was written")
        }
        guard old.timeBased else {
            throw CLIError.failure(
                "\(path) is set up for counter-based codes (HOTP), which twostep does not support: it uses time-based codes (TOTP) only. Nothing was written. Set the user up anew with 'twostep enroll' (the app needs the new key)")
        }
        let oldCode = try target.replacementCode(force: force, given: oldCode)
        let result = try target.service.importGoogleAuthenticator(
            ImportRequest(content: text, label: label, force: force, oldCode: oldCode))
        if result.replacedCorrupt { Console.error("twostep: replaced \(target.path), which was corrupt") }
        CodeCheck.report(result.authorization)
        report(old, from: path, to: target, lastStep: result.lastStep, newCodes: result.newBackupCodes)
    }

    private func report(_ old: GoogleAuthenticatorFile, from path: String, to target: Target, lastStep: UInt64?, newCodes: [String]) {
        func row(_ what: String, _ text: String) -> String {
            "  " + what + String(repeating: " ", count: max(1, 16 - what.count)) + text
        }
        Console.out("Imported \(path) into \(target.path) for \(target.account.name).")
        Console.out()
        Console.out("Carried over:")
        Console.out(row("secret", "the same key: the authenticator app keeps working as it is"))
        Console.out(row("step size", "\(old.stepSize) seconds\(old.stepSizeGiven ? " (STEP_SIZE)" : "")"))
        Console.out(row("scratch codes", old.scratchCodes.isEmpty
            ? "none in the file: \(newCodes.count) new backup codes were made (below)"
            : "\(old.scratchCodes.count), now backup codes (each works once)"))
        if let lastStep {
            Console.out(row("used codes", "codes of time step \(lastStep) and earlier stay used"))
        }

        Console.out()
        Console.out("Not carried over (module options or twostep's fixed behaviour):")
        if let w = old.windowSize {
            let steps = (w - 1) / 2
            let window = min(steps, 10)
            Console.out(row("WINDOW_SIZE \(w)", steps == 1
                ? "twostep's default window=1 accepts the same codes (now ± 1 step)"
                : "set by the administrator: window=\(window) on the pam_twostep line accepts now ± \(window) steps\(steps > 10 ? " (twostep's most)" : "")"))
        }
        if let r = old.rateLimit {
            Console.out(row("RATE_LIMIT \(r.attempts) \(r.seconds)",
                "twostep locks codes out instead: max_failures= wrong codes in a row (default 5) lock for lockout= seconds (default 300)"))
        } else {
            Console.out(row("no RATE_LIMIT", "twostep always locks codes out after max_failures= wrong codes (default 5, for 300 s)"))
        }
        Console.out(old.disallowReuse
            ? row("DISALLOW_REUSE", "twostep always refuses a code used before (not an option)")
            : row("reuse allowed", "twostep always refuses a code used before: the same code cannot log in twice"))
        if old.learnedSkew {
            Console.out(row("TIME_SKEW", "twostep does not learn clock skew: window= is the whole tolerance"))
        }
        Console.out()
        Console.out("\(path) was not changed. Remove it once logins work with pam_twostep.")
        if !newCodes.isEmpty {
            Console.out()
            BackupCodeSet.show(newCodes)
        }
    }
}
