import ArgumentParser
import TwoStepAccounts

/// `twostep trust revoke`.
struct TrustRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Stop trusting a device, or all of them: their next login asks for a code again.")

    @OptionGroup var target: TargetOptions

    @Argument(help: ArgumentHelp("The id of the trusted device, e.g. trust-1 (see 'twostep trust list').", valueName: "id"))
    var id: String?

    @Flag(help: "Revoke every trusted device.")
    var all = false

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func validate() throws {
        guard (id != nil) != all else { throw ValidationError("give the id of one trusted device, or --all") }
    }

    func run() throws {
        let target = try target.resolve()
        let status = try target.enabledStatus()
        if let id, !status.trustedDevices.contains(where: { $0.id == id }) {
            throw CLIError.usage("there is no trusted device with id '\(id)'; 'twostep trust list' lists them")
        }
        if all && status.trustedDevices.isEmpty {
            Console.out("No trusted devices.")
            return
        }
        let authorizing = try CodeCheck.obtain(for: target, status: status, given: code)
        let result = try target.service.revokeTrust(RevokeTrustRequest(id: id, all: all, code: authorizing))
        CodeCheck.report(result.authorization)
        let removed = result.revoked
        Console.out("Revoked \(removed) trusted device\(removed == 1 ? "" : "s").")
    }
}
