import ArgumentParser
import TwoStepCore
import TwoStepAccounts
#if canImport(Glibc)
import Glibc
#endif

/// `twostep status`: what is set up.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether two-step verification is on, and the methods, security keys, backup codes and trusted devices.",
        discussion: """
            Security keys are listed with their id, type, fingerprint (SHA256:..., as \
            'ssh-keygen -l' prints it), label, when added and when last used; in --json as \
            "security_keys": [{"id", "type", "fingerprint", "label", "created", "last_used"}] \
            (type as OpenSSH names it, times in Unix seconds, last_used null before the first use).

            In a login session that passed the second step (SPEC §12: an ssh login \
            whose sshd line has remember_session), your own status also says so, with \
            the factor and the time, and until when sudo's recent= lets this session \
            through without a code; in --json as "login_session": {"session_id", \
            "factor", "verified", "recent", "recent_factor", "step_up_until"} (null outside \
            such a session, and with --user).

            Exit status 0 when two-step verification is on, 1 when it is off (no factor file), 3 when the file cannot be used.
            """)

    @OptionGroup var target: TargetOptions

    @Flag(help: "Print one JSON object on standard output (times in Unix seconds).")
    var json = false

    func run() throws {
        let target = try target.resolve()
        let report = try target.service.status()
        // The caller's own login session; not another user's (--user).
        let session = self.target.user == nil
            ? LoginSessionStatus.current(uid: getuid(), configuration: try SystemSettings.load()) : nil
        if json {
            try JSONOutput.print(StatusOutput(status: report, loginSession: session))
        } else {
            report.show()
            if let session {
                Console.out()
                session.show(now: Clock.now)
            }
        }
        if !report.enabled { throw ExitCode(ExitStatus.refused) }
    }
}

/// `status --json`: the account's status and, under "login_session",
/// the caller's login session.
struct StatusOutput: Encodable {
    let status: AccountStatus
    let loginSession: LoginSessionStatus?

    private enum Key: String, CodingKey { case loginSession }

    func encode(to encoder: any Encoder) throws {
        try status.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(loginSession, forKey: .loginSession)
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
