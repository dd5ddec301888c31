import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `twostep setup`: configure a service for two-step verification, with a
/// roll-out that takes itself back unless a new login confirms it.
struct Setup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Root only: turn two-step verification on for ssh logins (setup sshd) and sudo's step-up (setup sudo), each undone by itself unless confirmed.",
        discussion: """
            'twostep setup sshd --method password|publickey' writes \
            /etc/ssh/sshd_config.d/twostep.conf and the pam_twostep line of /etc/pam.d/sshd, \
            checks the result with sshd -t and sshd -T, and reloads sshd. Like 'netplan try', \
            the change is not final: unless 'twostep setup --confirm' is run from a new \
            login within --timeout seconds (300 by default), everything is put back by \
            itself. So a mistake cannot lock you out: keep the session you ran setup in \
            open, log in again from another terminal, and confirm there.

            A new login: --confirm must run below an ssh connection that sshd accepted after \
            setup had reloaded it (the connection's sshd process started after the change \
            was in force) and, when the kernel keeps audit sessions (/proc/self/sessionid, \
            set by pam_loginuid), in another audit session than setup's. Such a login went \
            through the new configuration. A terminal that was already open, su, or a new \
            tmux window of an old login do not count. As yourself and then sudo is fine.

            Then 'twostep setup sudo' (see 'twostep setup sudo --help') lets sudo trust the \
            ssh login's verification for --recent seconds. Its --confirm must run below a sudo \
            started after the change: 'sudo twostep setup --confirm sudo' from a login.

            Two targets, sshd and sudo, each with its own state, copies and undo timer: \
            name one after --confirm, --undo or --status ('twostep setup --undo sudo'). \
            Without a name, --status shows both, and --undo and --confirm act on the only \
            target set up (--confirm: the only one pending); when that does not decide, \
            they name both and stop (exit 2).

            The undo timer outlives the session that started it: where systemd runs, a \
            transient timer (systemd-run --on-active=S --unit twostep-setup-undo-sshd, or \
            -sudo); elsewhere a detached twostep process in a session of its own that ignores \
            SIGHUP and writes to the target's timer.log. A restart of the machine \
            while a confirmation is pending stops it: --status says so; confirm or undo then.

            Every file setup changes is kept first, byte for byte with its mode and owner, \
            in /var/lib/twostep-setup/ (root, 0700; sshd's in the directory itself, sudo's \
            in sudo/): backup/ holds the files as they were, written/ as setup wrote them, \
            state the options, the deadline and the timer. --undo writes the old files back \
            exactly (and removes the ones setup created), also long after a confirmation; a \
            file edited since setup wrote it is kept there as edited-N-TIME before it is \
            replaced. Both targets change /etc/pam.d/sshd: while the other target is set up, \
            --undo writes that file with the other target's lines alone, made again on the \
            old file, so undoing one never drops the other's.

            Running 'twostep setup sshd' again with other options (another --method, \
            --security-keys, --enforce) replaces the set-up in force, pending or confirmed, \
            in one step: one reload and one new confirmation; if the new one fails, the \
            previous one is back as it was. --status also checks security_keys= of \
            twostep.conf against sshd -T: with touch sshd must require touch-required, with \
            verify touch-required and verify-required, and no Match block may take them away; \
            otherwise it reports the error after the status (exit 3).

            Exit status: 0 done; 1 refused (accounts would be locked out, or with --enforce have not \
            enrolled, and no --force; setup sudo while common-auth runs pam_twostep; \
            --confirm not from a new login or not below a new sudo, or too late); 2 usage error (also: nothing to \
            confirm or undo, both targets and none named, or set up already with the same options); 3 sshd's configuration is \
            broken or would not let the change take effect, or with publickey a Match block would let \
            connections in without the key or weaken PubkeyAuthOptions (nothing is changed then), \
            a file could not be read or written, or (--status) twostep.conf's security_keys= \
            is stronger than what sshd enforces.
            """,
        subcommands: [SetupSSHD.self, SetupSudo.self])

    @Flag(help: "Keep the pending change: for sshd run it from a new ssh login, for sudo as 'sudo twostep setup --confirm sudo', before the time runs out. Name the target (sshd or sudo) when both are pending.")
    var confirm = false

    @Flag(help: "Put back every file the target's setup changed (pending or confirmed): byte for byte, but for the other target's lines in /etc/pam.d/sshd, which stay; undoing sshd reloads it. Name the target (sshd or sudo) when both are set up.")
    var undo = false

    @Flag(help: "Show what setup configured, in which files, and whether a confirmation is pending and until when, for the target named or for both; an error when twostep.conf's security_keys= is stronger than what sshd -T enforces.")
    var status = false

    /// The undo timer's own run: `--undo --after-timeout TOKEN`.
    @Option(name: .customLong("after-timeout"), help: ArgumentHelp(
        "(for the undo timer) wait for the deadline of the set-up TOKEN, then undo it unless it was confirmed.",
        valueName: "token", visibility: .private))
    var afterTimeout: String?

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("setup is for root only: it changes sshd's configuration") }
        guard [confirm, undo, status].filter({ $0 }).count <= 1 else {
            throw ValidationError("give one of --confirm, --undo and --status")
        }
        if afterTimeout != nil && !undo { throw ValidationError("--after-timeout goes with --undo") }
    }

    /// True when --confirm, --undo or --status is given (then a target
    /// named after them, `twostep setup --undo sudo`, says which).
    var hasAction: Bool { confirm || undo || status }

    func run() throws {
        try perform(on: nil)
    }

    /// --confirm, --undo or --status for `target`; nil: --status shows
    /// every target, --undo and --confirm act on the only one there is.
    func perform(on target: SetupTarget?) throws(CLIError) {
        if confirm {
            let target = if let target { target } else { try SetupRollout.onlyTarget(confirming: true) }
            try SetupRollout.confirm(target)
        } else if undo {
            if let afterTimeout, target == nil {
                // A timer of a version before per-target state: the set-up with its token.
                guard let owner = SetupRollout.target(ofToken: afterTimeout) else {
                    SetupRollout.log("set-up \(afterTimeout) was confirmed or undone: nothing to do")
                    return
                }
                try SetupRollout.undo(owner, afterTimeout: afterTimeout)
            } else {
                let target = if let target { target } else { try SetupRollout.onlyTarget(confirming: false) }
                try SetupRollout.undo(target, afterTimeout: afterTimeout)
            }
        } else if status {
            try SetupRollout.status(target)
        } else {
            throw CLIError.usage("say what to set up ('twostep setup sshd --method password|publickey', 'twostep setup sudo'), or give --confirm, --undo or --status")
        }
    }
}
