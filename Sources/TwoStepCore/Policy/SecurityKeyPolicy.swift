/// Whether an enrolled OpenSSH FIDO key counts as the second step of an
/// SSH login (`security_keys=`, SPEC §11; module option and twostep.conf
/// key, default `off`).
///
/// PAM cannot see a signature's flags: sshd enforces them (`twostep setup
/// sshd --security-keys touch|verify` writes `PubkeyAuthOptions
/// touch-required` or `verify-required`). So `touch` and `verify` make the
/// same decision in the module (`SecurityKeyLogin`); they differ in what
/// the administrator states sshd enforces, which `twostep setup --status`
/// compares with `sshd -T`.
public enum SecurityKeyPolicy: String, Sendable, Equatable, CaseIterable {
    /// Keys never replace a code (OpenSSH counts a security key as one factor).
    case off
    /// An enrolled key counts; sshd requires user presence (a touch) for it.
    case touch
    /// An enrolled key counts; sshd requires user verification (PIN or
    /// biometric) as well as presence.
    case verify

    /// True when an enrolled key may replace the code.
    public var isOn: Bool { self != .off }
}
