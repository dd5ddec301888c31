import ArgumentParser
import TwoStepCore

/// `twostep disable`: turn two-step verification off.
struct Disable: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn two-step verification off: remove the factor file.",
        discussion: """
            Asks for a valid code first (not needed for root with --user). The \
            authenticators, backup codes and trusted devices are deleted. Whether a login \
            then still works without a code depends on the PAM configuration (nullok).
            """)

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func run() throws {
        let target = try target.resolve()
        let file = try target.read()
        if file.isEnabled {
            let check = try CodeCheck.obtain(for: target, file: file, given: code)
            try target.change(authorizing: check) { _ in }
        }
        try target.access { try $0.remove() }
        Console.out("Two-step verification is off for \(target.account.name): \(target.path) was removed.")
    }
}
