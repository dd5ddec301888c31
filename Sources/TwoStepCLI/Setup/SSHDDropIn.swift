import TwoStepCore

/// What setup writes into /etc/ssh/sshd_config.d/twostep.conf: the
/// options the method needs and, with `--security-keys`, the
/// `PubkeyAuthOptions` that sshd enforces for security keys (SPEC §11).
struct SSHDDropIn {
    var method: SSHDMethod
    /// `.off`: no PubkeyAuthOptions line.
    var securityKeys: SecurityKeyPolicy

    /// The `PubkeyAuthOptions` flags a `security_keys=` policy relies on.
    /// `verify` is user verification *as well as* presence (SPEC §11), so
    /// it has `touch-required` too: without it a per-key `no-touch-required`
    /// in a user's authorized_keys would drop the presence check.
    static func keyOptions(_ policy: SecurityKeyPolicy) -> [String] {
        switch policy {
        case .off: []
        case .touch: ["touch-required"]
        case .verify: ["touch-required", "verify-required"]
        }
    }

    /// The flags of `policy` that a `PubkeyAuthOptions` value (as written,
    /// or as `sshd -T` prints it) lacks; nil or "none" lacks them all.
    static func missingKeyOptions(_ policy: SecurityKeyPolicy, in value: [String]?) -> [String] {
        let present = Set((value ?? []).map { $0.lowercased() })
        return keyOptions(policy).filter { !present.contains($0) }
    }

    /// The sshd_config options the drop-in sets, as (keyword, value):
    /// keywords as `sshd -T` prints them (lower case) after the first.
    var settings: [(name: String, value: String)] {
        var settings = [
            (name: "UsePAM", value: "yes"),
            (name: "KbdInteractiveAuthentication", value: "yes"),
            (name: "AuthenticationMethods", value: method == .password ? "keyboard-interactive" : "publickey,keyboard-interactive"),
        ]
        if method == .publickey { settings.append((name: "ExposeAuthInfo", value: "yes")) }
        let flags = Self.keyOptions(securityKeys)
        if !flags.isEmpty { settings.append((name: "PubkeyAuthOptions", value: flags.joined(separator: " "))) }
        return settings
    }

    /// The options as they are given to `setup sshd` (for the messages).
    var arguments: String {
        "--method \(method.rawValue)" + (securityKeys.isOn ? " --security-keys \(securityKeys.rawValue)" : "")
    }

    /// The text of /etc/ssh/sshd_config.d/twostep.conf.
    var text: String {
        var text = """
            # Written by 'twostep setup sshd \(arguments)'; 'twostep setup --undo' removes it.
            # sshd asks through PAM (keyboard-interactive), and /etc/pam.d/sshd has pam_twostep,
            """
        text += method == .password
            ? "\n# which asks for the code after the password.\n"
            : "\n# which asks for the code once the SSH key (publickey) has been accepted.\n"
        if securityKeys.isOn {
            text += "# An enrolled security key replaces the code (security_keys=\(securityKeys.rawValue) in twostep.conf)\n"
            text += "# only because sshd requires this of every security key signature:\n"
        }
        for (name, value) in settings { text += "\(name) \(value)\n" }
        return text
    }
}
