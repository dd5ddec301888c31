import TwoStepAccounts
import TwoStepCore

/// `twostep setup --status [sshd|sudo]`: what setup changed and how far
/// each target's roll-out is, what sshd -T has in force, and an error when
/// twostep.conf's policy is stronger than that. Without a target: every target.
extension SetupRollout {
    static func status(_ target: SetupTarget?) throws(CLIError) {
        // The fleet store's connection, when it leaves the records open on the network.
        if let warning = (try? SystemSettings.load())?.databaseWarning { Console.out("Warning: \(warning).") }
        var effective: [String: String]?
        if target != .sudo { effective = try statusSSHD() }
        if target == nil { Console.out() }
        if target != .sshd { try statusSudo() }
        if target != .sudo { try checkKeyPolicy(effective) }
    }

    /// sshd's part; returns `sshd -T`'s values (nil when it fails).
    private static func statusSSHD() throws(CLIError) -> [String: String]? {
        let directory = SetupStateDirectory(.sshd)
        guard let state = try directory.load() else {
            Console.out("twostep setup has not changed sshd's configuration.")
            if let pam = try? SetupFile.read(SSHDServer.pamFile) {
                // setup sudo's lines are its status's.
                let sudo = (try? SetupStateDirectory(.sudo).load()) ?? nil
                for line in SSHDPAMStack.twoStepLines(in: pam.bytes) where sudo == nil || !line.text.hasPrefix("session ") {
                    Console.out("  \(SSHDServer.pamFile) line \(line.number) uses pam_twostep (set by hand): \(line.text)")
                }
            }
            if let dropIn = try? SetupFile.read(SSHDServer.dropIn), dropIn.exists {
                Console.out("  \(SSHDServer.dropIn) exists, but not from twostep setup")
            }
            return showEffective()
        }
        Console.out("sshd is set up by 'twostep setup sshd \(state.dropIn.arguments)\(state.enforce ? " --enforce" : "")': it asks for \(state.method.summary)"
            + (state.securityKeys.isOn ? "; an enrolled security key replaces the code." : "."))
        Console.out(state.enforce
            ? "Enforced: users who have not enrolled are refused."
            : "nullok: users who have not enrolled log in without a code.")
        showRollout(state, directory: directory, confirmHow: "from a new ssh login")
        return showEffective()
    }

    /// sudo's part (SPEC §12).
    private static func statusSudo() throws(CLIError) {
        let directory = SetupStateDirectory(.sudo)
        guard let state = try directory.load() else {
            Console.out("twostep setup has not set up sudo's step-up.")
            if let pam = try? SetupFile.read(SudoRollout.pamFile) {
                for line in SSHDPAMStack.twoStepLines(in: pam.bytes) {
                    Console.out("  \(SudoRollout.pamFile) line \(line.number) uses pam_twostep (set by hand): \(line.text)")
                }
            }
            return
        }
        Console.out("sudo is set up by 'twostep setup sudo --recent \(state.recent)': a user whose ssh login passed the second step less than \(state.recent) s ago (recent=\(state.recent)) is not asked for a code again in that login session.")
        showRollout(state, directory: directory, confirmHow: "as 'sudo twostep setup --confirm sudo' from a login")
    }

    /// A set-up's files, who made it, and how far its roll-out is.
    private static func showRollout(_ state: SetupState, directory: SetupStateDirectory, confirmHow: String) {
        let target = state.target.rawValue
        for file in state.files {
            var line = "  \(file.path): " + (file.existed ? "changed by setup (the old file: \(directory.backup(file.index)))" : "written by setup (there was none)")
            if let current = try? SetupFile.read(file.path), let written = try? SetupFile.read(directory.written(file.index)),
               current.bytes != written.bytes || !current.exists {
                line += current.exists ? "; edited since" : "; removed since"
            }
            Console.out(line)
        }
        Console.out("  set up at \(Clock.local(Int64(state.applied))) by \(state.setupBy)")
        switch state.phase {
        case .applying:
            Console.out("Stopped half-way while writing the files: run 'twostep setup --undo \(target)'.")
        case .pending:
            let left = state.deadline - Int(Clock.now)
            if left > 0 {
                Console.out("Pending: not confirmed yet. Run 'twostep setup --confirm \(target)' \(confirmHow) before \(Clock.local(Int64(state.deadline))) (\(left) s left); otherwise it is undone by itself then.")
            } else {
                Console.out("Pending: the time to confirm ran out at \(Clock.local(Int64(state.deadline))); the timer is undoing it.")
            }
            if SetupTimer.isRunning(state.timer) {
                Console.out("  \(timerDescription(state.timer, target: state.target))")
            } else {
                Console.out("  the undo timer is not running (did the machine restart?): nothing will undo it by itself. Confirm it, or run 'twostep setup --undo \(target)'")
            }
        case .confirmed:
            Console.out("Confirmed at \(Clock.local(Int64(state.confirmed ?? 0))) by \(state.confirmedBy ?? "?"). 'twostep setup --undo \(target)' takes it back.")
        }
    }

    /// Prints the options setup sets as `sshd -T` shows them; returns them all (nil when sshd -T fails).
    static func showEffective() -> [String: String]? {
        guard let effective = try? SSHDServer.effective() else { return nil }
        let keys = ["usepam", "kbdinteractiveauthentication", "authenticationmethods", "exposeauthinfo", "pubkeyauthoptions"]
        let values = keys.map { "\($0) \(effective[$0] ?? "?")" }.joined(separator: ", ")
        Console.out("In force (sshd -T): \(values)")
        return effective
    }

    /// An error when twostep.conf's `security_keys=` promises more than
    /// sshd enforces (SPEC §11): the module lets an enrolled key replace
    /// the code, trusting sshd to require the touch (and the PIN); sshd
    /// -T's `pubkeyauthoptions` must have those flags, and no Match block
    /// may take them away for some connections.
    static func checkKeyPolicy(_ effective: [String: String]?) throws(CLIError) {
        guard let policy = (try? SystemSettings.load())?.options.securityKeys, policy.isOn else { return }
        let wanted = SSHDDropIn.keyOptions(policy).joined(separator: " ")
        let promise = "\(SystemSettings.path) has security_keys=\(policy.rawValue) (an enrolled security key replaces the code)"
        guard let effective else {
            throw .failure("\(promise), and sshd -T fails: cannot tell whether sshd requires PubkeyAuthOptions \(wanted)")
        }
        var gaps = [String]()
        let value = effective["pubkeyauthoptions"] ?? "none"
        let missing = SSHDDropIn.missingKeyOptions(policy, in: value.split(separator: " ").map(String.init))
        if !missing.isEmpty {
            gaps.append("sshd -T shows 'pubkeyauthoptions \(value)': sshd does not require \(missing.joined(separator: " or ")) of a security key")
        }
        let dropIn = (try? SetupFile.read(SSHDServer.dropIn))?.text ?? ""
        let lines = (try? SSHDConfigFile.lines(main: SSHDServer.config, dropIn: SSHDServer.dropIn, dropInText: dropIn))?.lines ?? []
        for line in lines where line.inMatch && SSHDConfigFile.weakensKeyOptions(line, for: policy) {
            gaps.append("\(line.file) line \(line.number): '\(line.text)' is in a Match block: sshd does not require it for the connections that block matches")
        }
        guard gaps.isEmpty else {
            throw .failure("\(promise), but sshd does not enforce it:\n  " + gaps.joined(separator: "\n  ")
                + "\nFix: 'PubkeyAuthOptions \(wanted)' for every connection (as 'twostep setup sshd --method publickey --security-keys \(policy.rawValue)' writes it), or lower security_keys= to what sshd enforces")
        }
    }
}
