import Testing
@testable import TwoStepCLI

/// Debian 12's /etc/pam.d/sudo.
private let debianSudo = """
    #%PAM-1.0

    # Set up user limits from /etc/security/limits.conf.
    session    required   pam_limits.so

    session    required   pam_env.so readenv=1 user_readenv=0
    session    required   pam_env.so readenv=1 envfile=/etc/default/locale user_readenv=0

    @include common-auth
    @include common-account
    @include common-session-noninteractive

    """

/// Debian 12's /etc/pam.d/sshd, comments shortened (as test_setup.py has it).
private let debianSSHD = """
    # PAM configuration for the Secure Shell service

    @include common-auth
    account    required     pam_nologin.so
    @include common-account
    session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close
    session    required     pam_loginuid.so
    session    optional     pam_keyinit.so force revoke
    @include common-session
    @include common-password
    """

private func lines(_ bytes: [UInt8]) -> [String] {
    String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

private func removing(_ all: [String], _ removed: [String]) -> [String] {
    var rest = all
    for line in removed {
        if let at = rest.firstIndex(of: line) { rest.remove(at: at) }
    }
    return rest
}

@Suite struct SudoPAMStackTests {
    @Test func sudoLineAfterCommonAuth() throws {
        let edit = try SudoPAMStack.sudo(Array(debianSudo.utf8), path: "/etc/pam.d/sudo", module: "pam_twostep.so", recent: 600)
        let out = lines(edit.bytes)
        let at = try #require(out.firstIndex(of: "@include common-auth"))
        #expect(out[at + 1].hasPrefix("# twostep setup sudo --recent 600"))
        #expect(out[at + 2] == "auth required pam_twostep.so recent=600")
        #expect(removing(out, [out[at + 1], out[at + 2]]) == lines(Array(debianSudo.utf8)))
    }

    @Test func sudoWithoutCommonAuthIsRefused() {
        let file = Array(debianSudo.replacingOccurrences("@include common-auth\n", "").utf8)
        #expect(throws: CLIError.self) { try SudoPAMStack.sudo(file, path: "/etc/pam.d/sudo", module: "pam_twostep.so", recent: 900) }
        do {
            _ = try SudoPAMStack.sudo(file, path: "/etc/pam.d/sudo", module: "pam_twostep.so", recent: 900)
        } catch {
            guard case .refused(let why) = error else { Issue.record("not refused: \(error)"); return }
            #expect(why.contains("Add the line '@include common-auth'"))
        }
    }

    @Test func sudoWithTwoStepAlreadyIsRefused() {
        let file = Array((debianSudo + "auth required pam_twostep.so\n").utf8)
        #expect(throws: CLIError.self) { try SudoPAMStack.sudo(file, path: "/etc/pam.d/sudo", module: "pam_twostep.so", recent: 900) }
    }

    @Test func sshdWithoutAuthLineGetsSessionLineAndWarning() throws {
        let edit = try SudoPAMStack.sshd(Array(debianSSHD.utf8), path: "/etc/pam.d/sshd", module: "pam_twostep.so")
        let out = lines(edit.bytes)
        let at = try #require(out.firstIndex { $0.contains("pam_loginuid.so") })
        #expect(out[at + 1] == "session optional pam_twostep.so")
        #expect(out[at - 1].hasPrefix("# twostep setup sudo:"))
        #expect(removing(out, [out[at - 1], out[at + 1]]) == lines(Array(debianSSHD.utf8)))
        #expect(edit.warnings.count == 1 && edit.warnings[0].contains("asks for a code every time"))
    }

    @Test func sshdWithoutLoginUIDIsAFailure() {
        let file = Array(debianSSHD.replacingOccurrences("session    required     pam_loginuid.so\n", "").utf8)
        do {
            _ = try SudoPAMStack.sshd(file, path: "/etc/pam.d/sshd", module: "pam_twostep.so")
            Issue.record("accepted without pam_loginuid")
        } catch {
            guard case .failure(let why) = error else { Issue.record("not a failure: \(error)"); return }
            #expect(why.contains("step-up needs it"))
        }
    }

    @Test func rememberSessionOnAnAdministratorsLine() throws {
        let file = Array(debianSSHD.replacingOccurrences(
            "@include common-auth\n", "@include common-auth\nauth   required   pam_twostep.so nullok   # ours\n").utf8)
        let edit = try SudoPAMStack.sshd(file, path: "/etc/pam.d/sshd", module: "pam_twostep.so")
        #expect(lines(edit.bytes).contains("auth   required   pam_twostep.so nullok remember_session   # ours"))
        #expect(edit.warnings.isEmpty)
        // Once is enough: the edit of an edited file adds no second token (but a second session line is not added either).
        let again = try SudoPAMStack.sshd(edit.bytes, path: "/etc/pam.d/sshd", module: "pam_twostep.so")
        #expect(again.bytes == edit.bytes)
    }

    @Test func withOption() {
        #expect(SudoPAMStack.withOption("x", on: "auth required m.so") == "auth required m.so x")
        #expect(SudoPAMStack.withOption("x", on: "auth required m.so \t") == "auth required m.so x \t")
        #expect(SudoPAMStack.withOption("x", on: "auth required m.so # c") == "auth required m.so x # c")
        #expect(SudoPAMStack.withOption("x", on: "auth required m.so\r") == "auth required m.so x\r")
    }
}

@Suite struct SSHDPAMCompositionTests {
    let base = Array(debianSSHD.utf8)

    func sshd(_ method: SSHDMethod) -> SSHDPAMComposition.SSHDPart {
        SSHDPAMComposition.SSHDPart(method: method, module: "pam_twostep.so", nullok: true)
    }

    @Test(arguments: [SSHDMethod.password, .publickey])
    func eachTargetAloneAndBoth(method: SSHDMethod) throws {
        let none = try SSHDPAMComposition(sshd: nil, sudoModule: nil).apply(to: base, path: "p")
        #expect(none.bytes == base)
        let sshdAlone = try SSHDPAMComposition(sshd: sshd(method), sudoModule: nil).apply(to: base, path: "p")
        #expect(sshdAlone.bytes == (try SSHDPAMStack.edit(base, path: "p", method: method, module: "pam_twostep.so", nullok: true)).bytes)
        let sudoAlone = try SSHDPAMComposition(sshd: nil, sudoModule: "pam_twostep.so").apply(to: base, path: "p")
        #expect(sudoAlone.bytes == (try SudoPAMStack.sshd(base, path: "p", module: "pam_twostep.so")).bytes)

        let both = try SSHDPAMComposition(sshd: sshd(method), sudoModule: "pam_twostep.so").apply(to: base, path: "p")
        let out = lines(both.bytes)
        #expect(out.contains("auth required pam_twostep.so nullok remember_session"))
        #expect(out.filter { $0 == "session optional pam_twostep.so" }.count == 1)
        // Both lines of each: taking sudo's out of both gives sshd's alone.
        let withoutSudo = out.map { $0.replacingOccurrences(" remember_session", "") }
            .filter { $0 != "session optional pam_twostep.so" && !$0.hasPrefix("# twostep setup sudo:") }
        #expect(withoutSudo == lines(sshdAlone.bytes))
        #expect(both.warnings.allSatisfy { !$0.contains("asks for a code every time") })
    }
}

@Suite struct SetupStateTests {
    @Test func sudoStateRoundTrip() throws {
        var state = SetupState(token: "ab12", phase: .pending, method: .password, enforce: false,
                               module: "pam_twostep.so", reload: .signal, timeout: 60)
        state.target = .sudo
        state.recent = 120
        state.timer = .systemd(unit: SetupTarget.sudo.timerUnit)
        state.files = [SetupState.File(index: 1, path: "/etc/pam.d/sudo", existed: true, mode: 0o644, uid: 0, gid: 0)]
        #expect(state.text.contains("target sudo\n") && state.text.contains("recent 120\n"))
        #expect(!state.text.contains("method ") && !state.text.contains("enforce "))
        #expect(try SetupState(parsing: state.text, path: "s") == state)
    }

    @Test func stateOfAnOlderVersionIsSSHDs() throws {
        var state = SetupState(token: "ab12", phase: .confirmed, method: .publickey, enforce: true,
                               module: "pam_twostep.so", reload: .signal, timeout: 60)
        let old = state.text.replacingOccurrences("target sshd\n", "")
        let parsed = try SetupState(parsing: old, path: "s")
        #expect(parsed.target == .sshd && parsed.method == .publickey && parsed.enforce)
        state.target = .sshd
        #expect(parsed == state)
    }

    @Test func stateDirectories() {
        #expect(SetupStateDirectory(.sshd).statePath == "/var/lib/twostep-setup/state")
        #expect(SetupStateDirectory(.sudo).statePath == "/var/lib/twostep-setup/sudo/state")
        #expect(SetupStateDirectory(.sudo).backup(2) == "/var/lib/twostep-setup/sudo/backup/2")
        #expect(SetupTarget.sshd.timerUnit == "twostep-setup-undo-sshd")
    }
}

private extension String {
    /// Every `target` replaced by `replacement` (no Foundation in the CLI's tests).
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
