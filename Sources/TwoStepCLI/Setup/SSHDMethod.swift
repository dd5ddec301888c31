import ArgumentParser

/// What comes before the code at an ssh login, and so what sshd must be told.
enum SSHDMethod: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// The password, then the code, both asked by PAM in keyboard-interactive.
    case password
    /// An SSH key (publickey), then the code asked by PAM in keyboard-interactive.
    case publickey

    /// The sshd_config options the drop-in sets, as (keyword, value):
    /// keywords as `sshd -T` prints them (lower case) after the first.
    var settings: [(name: String, value: String)] {
        var settings = [
            (name: "UsePAM", value: "yes"),
            (name: "KbdInteractiveAuthentication", value: "yes"),
            (name: "AuthenticationMethods", value: self == .password ? "keyboard-interactive" : "publickey,keyboard-interactive"),
        ]
        if self == .publickey { settings.append((name: "ExposeAuthInfo", value: "yes")) }
        return settings
    }

    /// The text of /etc/ssh/sshd_config.d/twostep.conf.
    var dropIn: String {
        var text = """
            # Written by 'twostep setup sshd --method \(rawValue)'; 'twostep setup --undo' removes it.
            # sshd asks through PAM (keyboard-interactive), and /etc/pam.d/sshd has pam_twostep,
            """
        text += self == .password
            ? "\n# which asks for the code after the password.\n"
            : "\n# which asks for the code once the SSH key (publickey) has been accepted.\n"
        for (name, value) in settings { text += "\(name) \(value)\n" }
        return text
    }

    /// How a login goes, for the messages.
    var summary: String {
        self == .password ? "the password, then a code" : "an SSH key, then a code (no password)"
    }
}
