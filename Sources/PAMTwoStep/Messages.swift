#if canImport(Glibc)
import Glibc
#endif
import TwoStepCore

/// What the user is told. Short, generic where it must be (no hint whether
/// an account exists), specific where it helps and reveals nothing.
enum Messages {
    static let wrongCode = "Wrong code."
    static let unavailable = "Two-step verification is unavailable for this account. Contact your administrator."
    static let notEnrolled = "Two-step verification is required for this account. Run 'twostep enroll' to set it up."
    static let noAnswer = "No code was given."

    static func lockedOut(until: Int64, now: Int64) -> String {
        let minutes = max(1, UnixTime.adding(UnixTime.subtracting(until, now), 59) / 60)
        return "Too many wrong codes. Try again in \(minutes) minute\(minutes == 1 ? "" : "s") (after \(clock(until)))."
    }

    static func backupCodesLeft(_ n: Int) -> String {
        switch n {
        case 0: "That was your last backup code. Run 'twostep codes' to make new ones."
        case 1...3: "Backup code accepted. \(n) backup code\(n == 1 ? "" : "s") left; run 'twostep codes' to make new ones."
        default: "Backup code accepted. \(n) backup codes left."
        }
    }

    static func trustQuestion(days: Int) -> String {
        "Don't ask for codes on this device for \(days) day\(days == 1 ? "" : "s")? [y/N] "
    }

    /// HH:MM in the server's local time zone.
    static func clock(_ time: Int64) -> String {
        var t = time_t(time)
        var parts = tm()
        localtime_r(&t, &parts)
        let hh = parts.tm_hour < 10 ? "0\(parts.tm_hour)" : "\(parts.tm_hour)"
        let mm = parts.tm_min < 10 ? "0\(parts.tm_min)" : "\(parts.tm_min)"
        return "\(hh):\(mm)"
    }
}
