import ArgumentParser
import TwoStepCore
import TwoStepStore

/// `twostep status`: what is set up.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether two-step verification is on, and the methods, backup codes and trusted devices.",
        discussion: "Exit status 0 when two-step verification is on, 1 when it is off (no factor file), 3 when the file cannot be used.")

    @OptionGroup var target: TargetOptions

    @Flag(help: "Print one JSON object on standard output (times in Unix seconds).")
    var json = false

    func run() throws {
        let target = try target.resolve()
        let file: FactorFile
        do {
            file = try target.read()
        } catch StoreError.notEnrolled {
            file = FactorFile()
        }
        let report = Report(file, user: target.account.name, path: target.path, now: Clock.now)
        if json { try JSONOutput.print(report) } else { report.show() }
        if !report.enabled { throw ExitCode(ExitStatus.refused) }
    }

    /// The status as shown and as JSON. Holds no secret.
    struct Report: Encodable {
        var user: String
        var path: String
        var enabled: Bool
        var authenticators: [Authenticator]
        var phones: [PhoneEntry]
        var backupCodesLeft: Int
        var trustedDevices: [Device]
        var failures: Int
        var lockedUntil: Int64?

        struct Authenticator: Encodable {
            var id: String
            var label: String
            var algorithm: String
            var digits: Int
            var period: Int
            var created: Int64
        }

        /// A phone, with its number masked (`+966 ••• ••34`).
        struct PhoneEntry: Encodable {
            var id: String
            var channel: String
            var number: String
            var label: String
            var created: Int64
        }

        struct Device: Encodable {
            var id: String
            var service: String
            var rhost: String?
            var key: String?
            var created: Int64
            var expires: Int64
        }

        init(_ file: FactorFile, user: String, path: String, now: Int64) {
            self.user = user
            self.path = path
            enabled = file.isEnabled
            authenticators = file.authenticators.map {
                Authenticator(id: $0.id, label: $0.label, algorithm: $0.parameters.algorithm.rawValue,
                              digits: $0.parameters.digits, period: $0.parameters.period, created: $0.created)
            }
            phones = file.phones.map {
                PhoneEntry(id: $0.id, channel: $0.channel.rawValue, number: $0.number.masked, label: $0.label, created: $0.created)
            }
            backupCodesLeft = file.backupCodes.count
            trustedDevices = file.trustedDevices.map(Device.init)
            failures = file.failures.count
            lockedUntil = CodeCheck.verifier.lockout(in: file, at: now)
        }

        func show() {
            guard enabled else {
                Console.out("Two-step verification is off for \(user) (no factor file at \(path)).")
                Console.out("Run 'twostep enroll' to turn it on.")
                return
            }
            Console.out("Two-step verification is on for \(user) (\(path)).")
            Console.out()
            Console.out("Authenticator apps:")
            if authenticators.isEmpty { Console.out("  none") }
            for a in authenticators {
                Console.out("  \(a.id)  \"\(a.label)\"  \(a.algorithm), \(a.digits) digits, \(a.period) s  added \(Clock.local(a.created))")
            }
            if !phones.isEmpty {
                Console.out("Phones (codes by SMS or voice call):")
                for p in phones {
                    let how = p.channel == "sms" ? "SMS" : "voice call"
                    Console.out("  \(p.id)  \(p.number)  \(how)  \"\(p.label)\"  added \(Clock.local(p.created))")
                }
            }
            Console.out("Backup codes left: \(backupCodesLeft)")
            Console.out()
            TrustList.show(trustedDevices)
            if let lockedUntil {
                Console.out()
                Console.out("Locked out after \(failures) wrong codes: codes are refused until \(Clock.local(lockedUntil)).")
            } else if failures > 0 {
                Console.out()
                Console.out("Wrong codes since the last right one: \(failures)")
            }
        }
    }
}

extension Status.Report.Device {
    init(_ device: TrustedDevice) {
        self.init(id: device.id, service: device.service, rhost: device.remoteHost, key: device.keyFingerprint,
                  created: device.created, expires: device.expires)
    }
}
