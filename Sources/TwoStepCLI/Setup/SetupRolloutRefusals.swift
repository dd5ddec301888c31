import TwoStepAccounts
import TwoStepCore

/// Why `twostep setup sshd` does not go ahead: the messages, each naming
/// the file and line or the accounts, and the fix.
extension SetupRollout {
    /// `setup sshd` with the options of the set-up in force (other
    /// options replace it), or while one stopped half-way.
    static func alreadySetUp(_ state: SetupState) -> CLIError {
        let options = state.dropIn.arguments + (state.enforce ? " --enforce" : "")
        switch state.phase {
        case .pending:
            return .usage("a set-up with these options (\(options)) is waiting for its confirmation (until \(Clock.local(Int64(state.deadline)))): confirm it with 'twostep setup --confirm' from a new login, or take it back with 'twostep setup --undo'")
        case .confirmed:
            return .usage("sshd is already set up so (\(options), confirmed at \(Clock.local(Int64(state.confirmed ?? 0)))). Other options replace it in one step; 'twostep setup --undo' takes it back")
        case .applying:
            return .usage("a set-up stopped half-way: run 'twostep setup --undo' first")
        }
    }

    /// A Match block whose `PubkeyAuthOptions` takes away what
    /// `security_keys=` relies on: for the connections it matches, an
    /// enrolled key would replace the code without sshd requiring it.
    static func keyOptionsError(_ lines: [SSHDConfigFile.Line], policy: SecurityKeyPolicy) -> CLIError {
        let wanted = SSHDDropIn.keyOptions(policy).joined(separator: " ")
        var text = "--security-keys \(policy.rawValue): a Match block weakens PubkeyAuthOptions for some connections:"
        for line in lines {
            text += "\n  \(line.file) line \(line.number): '\(line.text)'"
        }
        text += "\nsshd uses the block's value for the connections it matches, so there an enrolled security key would replace the code without sshd requiring \(wanted). Fix: in that block make it 'PubkeyAuthOptions \(wanted)', or delete the line. Nothing was changed."
        return .failure(text)
    }

    static func conflictError(_ conflicts: [SSHDConfigFile.Conflict]) -> CLIError {
        var text = "\(SSHDServer.dropIn) would not be in force:"
        if conflicts.contains(where: { $0.line == nil }) {
            text += "\n  sshd would not read it: no Include line of \(SSHDServer.config) names it. Fix: add the line\n      Include /etc/ssh/sshd_config.d/*.conf\n  at the top of \(SSHDServer.config)."
        }
        let lines = (try? SSHDConfigFile.lines(main: SSHDServer.config, dropIn: SSHDServer.dropIn, dropInText: ""))?.lines ?? []
        let include = SSHDConfigFile.firstInclude(in: lines, main: SSHDServer.config)
        for conflict in conflicts {
            guard let line = conflict.line else { continue }
            text += "\n  \(line.file) line \(line.number): '\(line.text)' is read before the drop-in, and in sshd_config the first value of an option wins, so sshd would use it instead of '\(conflict.setting) \(conflict.value)'."
            if line.file == SSHDServer.config, let include, include.number > line.number {
                text += " Fix: delete that line, or move it below line \(include.number) ('\(include.text)')."
            } else {
                text += " Fix: delete that line (or make it '\(conflict.setting) \(conflict.value)')."
            }
        }
        return .failure(text + "\nNothing was changed. Run setup again after the fix.")
    }

    /// A Match block that lets some connections in without the key: with
    /// --method publickey /etc/pam.d/sshd checks no password (common-auth is
    /// out, pam_permit is in), so for those connections any password, or an
    /// empty keyboard-interactive exchange of an account that has not
    /// enrolled, would do.
    static func keyBypassError(_ lines: [SSHDConfigFile.Line], passwordAuthentication: String) -> CLIError {
        var text = "--method publickey: a Match block lets some connections log in without the SSH key first:"
        for line in lines {
            text += "\n  \(line.file) line \(line.number): '\(line.text)'"
        }
        text += "\nWith --method publickey, /etc/pam.d/sshd checks no password (common-auth is commented out; the key is what replaces it), so for the connections such a block matches, keyboard-interactive"
        text += passwordAuthentication == "no" ? "" : " (or password: PasswordAuthentication is \(passwordAuthentication))"
        text += " alone would let any account that has not enrolled in with any password. Fix: in that block, make every alternative begin with publickey (e.g. 'AuthenticationMethods publickey,keyboard-interactive'), or delete the line; or use --method password. Nothing was changed."
        return .failure(text)
    }

    static func lockOutRefusal(method: SSHDMethod, lockedOut: [SSHDLoginAccounts.Account], unenrolled: [SSHDLoginAccounts.Account]) -> CLIError {
        let all = lockedOut + unenrolled
        let width = all.map(\.name.count).max() ?? 0
        let howWidth = all.map { $0.how.joined(separator: ", ").count }.max() ?? 0
        func rows(_ accounts: [SSHDLoginAccounts.Account]) -> String {
            accounts.map { a in "\n  " + a.name.padding(width) + "  " + a.how.joined(separator: ", ").padding(howWidth) + "  " + a.reason }.joined()
        }
        var parts = [String]()
        if !lockedOut.isEmpty {
            let n = lockedOut.count
            var text = "--method \(method.rawValue): \(n) account\(n == 1 ? "" : "s") can log in over ssh today and could not at all once this is confirmed, enrolled or not:" + rows(lockedOut)
            text += "\nGive \(n == 1 ? "it" : "them") what the method needs (" + (method == .password ? "a password" : "an authorized key") + "; for root, log in as a user who can sudo instead), use the other --method, or give --force to go ahead anyway."
            parts.append(text)
        }
        if !unenrolled.isEmpty {
            let n = unenrolled.count
            var text = "--enforce: \(n) account\(n == 1 ? "" : "s") can log in over ssh and \(n == 1 ? "has" : "have") not turned two-step verification on; without nullok sshd would refuse \(n == 1 ? "it" : "them"):" + rows(unenrolled)
            text += "\nHave them enrol first ('twostep enroll'; root can enrol someone with 'twostep enroll --user NAME'), roll out without --enforce (nullok) until they have, or give --force to enforce anyway."
            parts.append(text)
        }
        return .refused(parts.joined(separator: "\n") + " Nothing was changed.")
    }
}

private extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
