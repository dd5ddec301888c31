import ArgumentParser

/// What `twostep setup` configures. Each target has its own saved state,
/// copies and undo timer (`SetupStateDirectory`), so that one can be
/// undone or confirmed without the other.
enum SetupTarget: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// `setup sshd`: ssh logins ask for a code.
    case sshd
    /// `setup sudo`: sudo trusts the login's verification (SPEC §12).
    case sudo

    /// The other target (both edit /etc/pam.d/sshd).
    var other: SetupTarget { self == .sshd ? .sudo : .sshd }

    /// The undo timer's systemd unit (without .timer).
    var timerUnit: String { "twostep-setup-undo-\(rawValue)" }
}
