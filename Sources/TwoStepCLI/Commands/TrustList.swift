import ArgumentParser
import TwoStepAccounts
import TwoStepCore

/// `twostep trust list`.
struct TrustList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List trusted devices.")

    @OptionGroup var target: TargetOptions

    @Flag(help: "Print {\"trusted_devices\": [...]} on standard output (times in Unix seconds).")
    var json = false

    func run() throws {
        let target = try target.resolve()
        let devices = try target.enabledStatus().trustedDevices
        if json {
            try JSONOutput.print(["trusted_devices": devices])
        } else {
            Self.show(devices)
        }
    }

    /// The human listing, shared with `status`.
    static func show(_ devices: [AccountStatus.Device]) {
        guard !devices.isEmpty else {
            Console.out("Trusted devices: none")
            return
        }
        Console.out("Trusted devices:")
        for d in devices {
            var what = [String]()
            if let rhost = d.rhost { what.append("from \(Console.field(rhost))") }
            if let key = d.key { what.append("key \(Console.field(key))") }
            Console.out("  \(Console.field(d.id))  \(Console.field(d.service)) \(what.joined(separator: ", "))  trusted \(Clock.local(d.created)) until \(Clock.local(d.expires))")
        }
    }
}
