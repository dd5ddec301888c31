import ArgumentParser
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `twostep setup sshd`: ssh logins ask for a code.
struct SetupSSHD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sshd",
        abstract: "Root only: make ssh logins ask for a code after the password or the SSH key.",
        discussion: """
            Writes /etc/ssh/sshd_config.d/twostep.conf with UsePAM yes, \
            KbdInteractiveAuthentication yes and AuthenticationMethods (and ExposeAuthInfo \
            yes for publickey, so that a trusted device is bound to the key), and changes \
            /etc/pam.d/sshd:

            --method password: 'auth required pam_twostep.so nullok' after \
            '@include common-auth'; AuthenticationMethods keyboard-interactive, in which PAM \
            asks for the password and then the code.

            --method publickey: AuthenticationMethods publickey,keyboard-interactive; \
            '@include common-auth' is commented out (the key replaces the password, which \
            common-auth would ask for too) and 'auth required pam_twostep.so nullok' plus \
            'auth required pam_permit.so' take its place, so after the key only the code \
            is asked. Other auth lines are left as they are (and named).

            Each change is marked with a '# twostep setup' comment. With --enforce there \
            is no nullok: a user who has not enrolled is refused.

            Before anything is written: sshd -t must pass; sshd_config must read the drop-in \
            before any line that sets one of its options (sshd uses an option's first value, \
            so 'KbdInteractiveAuthentication no' above 'Include /etc/ssh/sshd_config.d/*.conf' \
            wins: setup names the file and line and the fix); pam_twostep.so must be \
            installed; /etc/pam.d/sshd and common-auth must not use pam_twostep already; \
            with publickey, no Match block may set AuthenticationMethods to any or to a list \
            with an alternative that does not begin with publickey (the PAM stack checks no \
            password, so those connections would need none); and no account that can log in \
            today may be shut out (key-only accounts with password, password-only accounts \
            with publickey, root under PermitRootLogin other than yes, where sshd refuses \
            root the code step) unless --force is given. \
            After writing, sshd -t must pass again and sshd -T must show the values, or \
            every file is put back. Then the undo timer starts and sshd is reloaded \
            (systemctl try-reload-or-restart ssh.service where systemd runs, else SIGHUP to \
            the pid in sshd's PidFile).

            --security-keys touch|verify (with --method publickey only): an SSH login with a \
            security key enrolled in twostep ('twostep add key') is not asked for a code. \
            The drop-in also gets 'PubkeyAuthOptions touch-required' (verify: \
            'touch-required verify-required', a PIN or biometric as well as the touch), \
            which a per-key option in authorized_keys cannot weaken, and twostep.conf \
            (/etc/twostep/twostep.conf; made when missing) gets security_keys=touch|verify \
            once sshd enforces it. A Match block whose PubkeyAuthOptions takes a flag away \
            ('none', or 'touch-required' alone for verify) is refused, naming the file and line.

            Run again with other options while a set-up is pending or confirmed, setup \
            replaces it in one step: the files count as they were before it (their kept \
            copies), the new changes are written, sshd is reloaded once, and one new \
            confirmation is due within --timeout. If anything fails, the previous set-up \
            is back as it was (pending with its own deadline, or confirmed). With the same \
            options it says sshd is set up so already (exit 2).

            Nothing is final until 'twostep setup --confirm' is run from a new ssh login \
            within --timeout seconds; see 'twostep setup --help'.
            """)

    /// `twostep setup --undo sshd` (and --confirm, --status): the parent's action for this target.
    @ParentCommand var setup: Setup

    @Option(help: ArgumentHelp("What comes before the code: password, or publickey (an SSH key, no password). Required to set up; not with --confirm, --undo, --status before 'sshd'.", valueName: "password|publickey"))
    var method: SSHDMethod?

    @Option(help: ArgumentHelp("With --method publickey: an enrolled security key replaces the code, and sshd requires a touch (touch) or a PIN or biometric and a touch (verify) for every security key.", valueName: "touch|verify"))
    var securityKeys: String?

    @Flag(help: "No nullok: refuse users who have not enrolled. Refused while accounts that can log in over ssh (a shell, and a usable password or authorized key) have not enrolled; they are listed.")
    var enforce = false

    @Flag(help: "Go ahead even though accounts would be locked out: ones the method shuts out (with password, accounts with keys only; with publickey, accounts with a password only; root where PermitRootLogin is not yes), and with --enforce ones that have not enrolled. Without it setup lists them and refuses.")
    var force = false

    @Option(help: ArgumentHelp("Seconds to run 'twostep setup --confirm' from a new login before the change is undone by itself (1 to 86400).", valueName: "seconds"))
    var timeout = 300

    @Option(help: ArgumentHelp("The module as the pam.d line names it: a file of the PAM module directory, or an absolute path.", valueName: "path"))
    var module = "pam_twostep.so"

    @Option(help: ArgumentHelp("How to reload sshd: systemd (systemctl try-reload-or-restart ssh.service), signal (SIGHUP to the pid in sshd's PidFile), or auto (systemd where it is PID 1).", valueName: "auto|systemd|signal"))
    var reload: SSHDReload = .auto

    @Option(help: ArgumentHelp("How the undo timer runs: systemd (a transient timer unit), process (a detached twostep process), or auto (systemd where it is PID 1).", valueName: "auto|systemd|process"))
    var timer: SetupTimer = .auto

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("setup is for root only: it changes sshd's configuration") }
        if setup.hasAction {
            guard method == nil && securityKeys == nil && !enforce && !force else {
                throw ValidationError("--confirm, --undo and --status take no options of 'setup sshd': 'twostep setup --undo sshd'")
            }
            return
        }
        guard method != nil else { throw ValidationError("give --method password|publickey") }
        guard (1...86400).contains(timeout) else { throw ValidationError("--timeout must be 1 to 86400 seconds") }
        if let securityKeys {
            guard let policy = SecurityKeyPolicy(rawValue: securityKeys), policy.isOn else {
                throw ValidationError("--security-keys: touch or verify")
            }
            guard method == .publickey else {
                throw ValidationError("--security-keys goes with --method publickey: sshd reports the key to PAM only when publickey comes first")
            }
        }
        if module.isEmpty || module.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            throw ValidationError("--module: a path without spaces")
        }
    }

    func run() throws {
        guard let method, !setup.hasAction else { return try setup.perform(on: .sshd) }
        try SetupRollout.apply(SetupRollout.Request(
            method: method, enforce: enforce, force: force, timeout: timeout, module: module, reload: reload, timer: timer,
            securityKeys: securityKeys.flatMap(SecurityKeyPolicy.init(rawValue:)) ?? .off))
    }
}
