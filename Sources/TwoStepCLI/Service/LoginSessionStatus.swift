import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// What `twostep status` shows about the caller's login session (SPEC
/// §12): whether it passed the second step, with which factor and when,
/// and until when sudo's `recent=` (read from /etc/pam.d/sudo) lets it
/// through. Local to this host by nature, whatever the store.
struct LoginSessionStatus: Encodable, Equatable {
    /// The kernel's audit session id.
    var sessionId: UInt32
    var factor: String
    /// When the login passed the second step, Unix seconds.
    var verified: Int64
    /// `recent=` of the pam_twostep line of /etc/pam.d/sudo; nil when it has none.
    var recent: Int?
    /// `recent_factor=` of that line.
    var recentFactor: String?
    /// Until when sudo asks no code; nil when it never skips the code for this session.
    var stepUpUntil: Int64?

    /// The record of this process's login session for `uid`; nil outside a
    /// login session or when the session did not pass the second step.
    static func current(uid: UInt32, configuration: SystemConfiguration) -> LoginSessionStatus? {
        guard let session = KernelSession.current(),
              let record = try? SessionDirectory(socketDirectory: SystemSettings.socketDirectory(configuration))
                .record(of: session, uid: uid)
        else { return nil }
        let sudo = SudoStepUp.configured()
        var status = LoginSessionStatus(sessionId: session.id, factor: record.factor.rawValue, verified: record.verified,
                                        recent: sudo?.seconds, recentFactor: sudo?.factor.rawValue, stepUpUntil: nil)
        if let sudo, sudo.seconds > 0, sudo.factor.admits(record.factor) {
            status.stepUpUntil = record.verified + Int64(sudo.seconds)
        }
        return status
    }

    /// The human lines.
    func show(now: Int64) {
        Console.out("This login session (\(sessionId)) passed the second step (\(factor)) at \(Clock.local(verified)).")
        if let until = stepUpUntil, until > now {
            Console.out("sudo asks no code in it until \(Clock.local(until)) (\((until - now + 59) / 60) min left, recent=\(recent ?? 0)).")
        } else if let until = stepUpUntil {
            Console.out("sudo asks for a code again: recent=\(recent ?? 0) ran out at \(Clock.local(until)).")
        } else if let recent, recent > 0 {
            Console.out("sudo asks for a code anyway: its recent_factor=\(recentFactor ?? "any") does not count \(factor).")
        } else {
            Console.out("sudo's pam_twostep line has no recent=: it asks for a code every time.")
        }
    }
}

/// The step-up the pam_twostep line of /etc/pam.d/sudo configures.
enum SudoStepUp {
    static let path = "/etc/pam.d/sudo"

    /// `recent=` and `recent_factor=` of the first `auth` line that runs
    /// pam_twostep; nil when the file cannot be read or has none.
    static func configured(path: String = path) -> StepUp? {
        guard let file = try? SetupFile.read(path), file.exists else { return nil }
        for line in SSHDPAMStack.split(file.bytes).lines {
            guard let arguments = line.twoStepAuthArguments else { continue }
            return try? ModuleOptions(arguments: arguments.filter { $0.hasPrefix("recent") }).stepUp
        }
        return nil
    }
}
