import ArgumentParser
import TwoStepAccounts

/// `twostep codes`: a new set of backup codes.
struct Codes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new set of backup codes; the old ones stop working.",
        discussion: "Asks for a valid code first (a current authenticator code or one of the old backup codes). The new codes are shown once.")

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("How many codes to make (1 to 100).", valueName: "n"))
    var count = 10

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    @Flag(help: "Print {\"backup_codes\": [...]} on standard output and nothing else.")
    var json = false

    func validate() throws {
        guard (1...100).contains(count) else { throw ValidationError("--count must be 1 to 100") }
    }

    func run() throws {
        let target = try target.resolve()
        let authorizing = try CodeCheck.obtain(for: target, status: try target.enabledStatus(), given: code)
        let result = try target.service.newBackupCodes(NewBackupCodesRequest(count: count, code: authorizing))
        CodeCheck.report(result.authorization)
        let codes = result.backupCodes
        if json {
            try JSONOutput.print(["backup_codes": codes])
        } else {
            BackupCodeSet.show(codes)
        }
    }
}
