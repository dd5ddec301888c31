import ArgumentParser
import TwoStepCore
import TwoStepAccounts

/// `twostep status`: what is set up.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether two-step verification is on, and the methods, security keys, backup codes and trusted devices.",
        discussion: """
            Security keys are listed with their id, type, fingerprint (SHA256:..., as \
            'ssh-keygen -l' prints it), label, when added and when last used; in --json as \
            "security_keys": [{"id", "type", "fingerprint", "label", "created", "last_used"}] \
            (type as OpenSSH names it, times in Unix seconds, last_used null before the first use).

            Exit status 0 when two-step verification is on, 1 when it is off (no factor file), 3 when the file cannot be used.
            """)

    @OptionGroup var target: TargetOptions

    @Flag(help: "Print one JSON object on standard output (times in Unix seconds).")
    var json = false

    func run() throws {
        let target = try target.resolve()
        let report = try target.service.status()
        if json { try JSONOutput.print(report) } else { report.show() }
        if !report.enabled { throw ExitCode(ExitStatus.refused) }
    }
}

extension AccountStatus {
    /// The human listing.
    func show() {
        guard enabled else {
            Console.out("Two-step verification is off for \(Console.field(user)) (no factor file at \(Console.field(path))).")
            Console.out("Run 'twostep enroll' to turn it on.")
            return
        }
        Console.out("Two-step verification is on for \(Console.field(user)) (\(Console.field(path))).")
        Console.out()
        Console.out("Authenticator apps:")
        if authenticators.isEmpty { Console.out("  none") }
        for a in authenticators {
            Console.out("  \(Console.field(a.id))  \"\(Console.field(a.label))\"  \(a.algorithm), \(a.digits) digits, \(a.period) s  added \(Clock.local(a.created))")
        }
        if !phones.isEmpty {
            Console.out("Phones (codes by SMS or voice call):")
            for p in phones {
                let how = p.channel == "sms" ? "SMS" : "voice call"
                Console.out("  \(Console.field(p.id))  \(Console.field(p.number))  \(how)  \"\(Console.field(p.label))\"  added \(Clock.local(p.created))")
            }
        }
        if !securityKeys.isEmpty {
            Console.out("Security keys (SSH logins with these need no code when security_keys= allows):")
            for k in securityKeys {
                let type = SecurityKeyType(rawValue: k.type)?.shortName ?? k.type
                let used = k.lastUsed.map { "last used \(Clock.local($0))" } ?? "never used"
                Console.out("  \(Console.field(k.id))  \(Console.field(type))  \(Console.field(k.fingerprint))  \"\(Console.field(k.label))\"  added \(Clock.local(k.created))  \(used)")
            }
        }
        Console.out("Backup codes left: \(backupCodesLeft)")
        Console.out("Last code accepted: \(lastAccepted.map(Clock.local) ?? "none recorded")")
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
