import ArgumentParser

/// What comes before the code at an ssh login, and so what sshd must be told.
enum SSHDMethod: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// The password, then the code, both asked by PAM in keyboard-interactive.
    case password
    /// An SSH key (publickey), then the code asked by PAM in keyboard-interactive.
    case publickey

    /// How a login goes, for the messages.
    var summary: String {
        self == .password ? "the password, then a code" : "an SSH key, then a code (no password)"
    }
}
