import ArgumentParser
import TwoStepAccounts
import TwoStepStore

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
        let status = try target.service.status()
        guard status.exists else { throw AccountError(StoreError.notEnrolled(path: status.path)) }
        let authorizing = status.enabled ? try CodeCheck.obtain(for: target, status: status, given: code) : nil
        CodeCheck.report(try target.service.disable(DisableRequest(code: authorizing)))
        Console.out("Two-step verification is off for \(target.account.name): \(status.path) was removed.")
    }
}
