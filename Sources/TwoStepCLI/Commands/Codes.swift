import ArgumentParser
import TwoStepCore

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
        let file = try target.readEnabled()
        let check = try CodeCheck.obtain(for: target, file: file, given: code)
        let codes = try target.change(authorizing: check) { file in
            try BackupCodeSet.replace(in: &file, count: count, at: Clock.now)
        }
        if json {
            try JSONOutput.print(["backup_codes": codes])
        } else {
            BackupCodeSet.show(codes)
        }
    }
}
