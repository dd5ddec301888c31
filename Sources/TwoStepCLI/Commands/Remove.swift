import ArgumentParser
import TwoStepCore

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
        let file = try target.readEnabled()
        try Self.checkRemovable(id, in: file)
        let check = try CodeCheck.obtain(for: target, file: file, given: code)
        try target.change(authorizing: check) { file in
            try Self.checkRemovable(id, in: file)
            file.removeFactor(id: id)
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
        guard type(of: factor).isMethod else {
            throw .usage("'\(id)' is a code sent to a phone, not a method; it expires by itself")
        }
        guard file.factors.contains(where: { $0.id != id && type(of: $0).isMethod && !($0 is BackupCode) }) else {
            throw .usage("'\(id)' is your only authenticator or phone. To turn two-step verification off use 'twostep disable'; to replace it, 'twostep add totp' or 'twostep add phone' first")
        }
    }
}
