import ArgumentParser
import TwoStepCore

/// `twostep remove ID`: drop an authenticator.
struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an authenticator app (see 'twostep status' for the ids).",
        discussion: """
            The last authenticator cannot be removed: use 'twostep disable' to turn two-step \
            verification off, or add the new app first ('twostep add totp'). Backup codes \
            are replaced as a set with 'twostep codes'.
            """)

    @OptionGroup var target: TargetOptions

    @Argument(help: ArgumentHelp("The id of the authenticator, e.g. totp-2.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func run() throws {
        let target = try target.resolve()
        let file = try target.readEnabled()
        try Self.checkRemovable(id, in: file)
        let check = try CodeCheck.obtain(for: target, file: file, given: code)
        try target.change(authorizing: check) { file in
            try Self.checkRemovable(id, in: file)
            file.factors.removeAll { $0.id == id }
        }
        Console.out("Removed \(id).")
    }

    private static func checkRemovable(_ id: String, in file: FactorFile) throws(CLIError) {
        guard let factor = file.factors.first(where: { $0.id == id }) else {
            throw .usage("there is no method with id '\(id)'; 'twostep status' lists them")
        }
        guard !(factor is BackupCode) else {
            throw .usage("'\(id)' is a backup code: 'twostep codes' replaces the whole set")
        }
        guard file.factors.contains(where: { $0.id != id && !($0 is BackupCode) }) else {
            throw .usage("'\(id)' is your only authenticator. To turn two-step verification off use 'twostep disable'; to replace the app, 'twostep add totp' first")
        }
    }
}
