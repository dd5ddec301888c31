import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `twostep setup sudo`: sudo trusts the login's verification (SPEC §12).
struct SetupSudo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sudo",
        abstract: "Root only: sudo asks no code of a user whose ssh login passed the second step a short while ago.",
        discussion: """
            Adds 'auth required pam_twostep.so recent=SECONDS' after '@include common-auth' \
            in /etc/pam.d/sudo: sudo asks for the password as before, then for a code unless \
            the user's ssh login session passed twostep's second step less than SECONDS ago \
            (--recent, 900 by default). And in /etc/pam.d/sshd: the option remember_session on \
            the pam_twostep auth line (the one 'twostep setup sshd' wrote, or one of your own), \
            and 'session optional pam_twostep.so' directly after 'session required \
            pam_loginuid.so', which keeps the login's verification for its audit session. Each \
            change is marked with a '# twostep setup' comment.

            Refused, nothing changed: when /etc/pam.d/common-auth runs pam_twostep already \
            (sudo includes it and would ask for two codes; exit 1); when /etc/pam.d/sudo has no \
            '@include common-auth' line (exit 1); when sshd's session stack has no pam_loginuid \
            line (exit 3). When sshd's stack has no pam_twostep auth line yet, the sudo and \
            session lines are written and a note says that sudo asks for a code every time \
            until 'twostep setup sshd' is done (which then adds remember_session to its line).

            The safety of 'setup sshd', with a state, copies and undo timer of its own (in \
            /var/lib/twostep-setup/sudo, the systemd unit twostep-setup-undo-sudo): nothing is \
            final until 'twostep setup --confirm sudo' runs below a sudo that started after \
            the change, that is from a login as 'sudo twostep setup --confirm sudo' (after \
            'sudo -k', so that sudo asks and its new stack runs), within --timeout seconds; \
            otherwise it is undone by itself. 'twostep setup --undo sudo' takes it back at any \
            time and leaves the lines of 'twostep setup sshd' in /etc/pam.d/sshd as they are, \
            as undoing sshd leaves sudo's. Run again with another --recent, it replaces the \
            set-up in force in one step.
            """)

    /// `twostep setup --undo sudo` (and --confirm, --status): the parent's action for this target.
    @ParentCommand var setup: Setup

    @Option(help: ArgumentHelp("Seconds after a verified ssh login in which sudo asks no code in that login session (1 to 3600).", valueName: "seconds"))
    var recent = 900

    @Option(help: ArgumentHelp("Seconds to run 'sudo twostep setup --confirm sudo' from a login before the change is undone by itself (1 to 86400).", valueName: "seconds"))
    var timeout = 300

    @Option(help: ArgumentHelp("The module as the pam.d lines name it: a file of the PAM module directory, or an absolute path.", valueName: "path"))
    var module = "pam_twostep.so"

    @Option(help: ArgumentHelp("How the undo timer runs: systemd (a transient timer unit), process (a detached twostep process), or auto (systemd where it is PID 1).", valueName: "auto|systemd|process"))
    var timer: SetupTimer = .auto

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("setup is for root only: it changes sudo's and sshd's PAM configuration") }
        if setup.hasAction { return }
        guard (1...3600).contains(recent) else { throw ValidationError("--recent must be 1 to 3600 seconds") }
        guard (1...86400).contains(timeout) else { throw ValidationError("--timeout must be 1 to 86400 seconds") }
        if module.isEmpty || module.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            throw ValidationError("--module: a path without spaces")
        }
    }

    func run() throws {
        if setup.hasAction { return try setup.perform(on: .sudo) }
        try SudoRollout.apply(SudoRollout.Request(recent: recent, timeout: timeout, module: module, timer: timer))
    }
}
