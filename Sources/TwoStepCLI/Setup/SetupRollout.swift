import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `twostep setup`'s work: apply a set-up, undo it, confirm it, show it.
/// Every step that changes something holds the state directory's lock.
enum SetupRollout {
    /// What `twostep setup sshd` was asked to do.
    struct Request {
        var method: SSHDMethod
        var enforce: Bool
        var force: Bool
        var timeout: Int
        var module: String
        var reload: SSHDReload
        var timer: SetupTimer
    }

    // MARK: Apply

    static func apply(_ request: Request) throws(CLIError) {
        holdSignals()
        let directory = SetupStateDirectory()
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        if let state = try directory.load() { throw alreadySetUp(state) }

        // Everything is checked before anything is written.
        let configuration = try SystemSettings.load()
        if request.enforce && configuration.options.nullok {
            throw .usage("--enforce: \(SystemConfiguration.defaultPath) sets nullok=yes, which every pam_twostep line inherits (a pam.d line cannot turn it off). Take nullok out of that file, then run setup again")
        }
        try checkModule(request.module)
        let main = try SetupFile.read(SSHDServer.config)
        guard main.exists else { throw .failure("\(SSHDServer.config) does not exist: is openssh-server installed?") }
        let pam = try SetupFile.read(SSHDServer.pamFile)
        guard pam.exists else { throw .failure("\(SSHDServer.pamFile) does not exist: is openssh-server installed?") }
        let dropIn = try SetupFile.read(SSHDServer.dropIn)
        if request.method == .password, let common = try? SetupFile.read(SSHDServer.commonAuth),
           let line = SSHDPAMStack.twoStepLines(in: common.bytes).first {
            throw .usage("\(SSHDServer.commonAuth) line \(line.number) uses pam_twostep already ('\(line.text)': the pam-auth-update profile twostep is on?), and sshd includes common-auth: with sshd's own line a login would be asked for two codes. Keep one: 'pam-auth-update --disable twostep', or leave sshd's files as they are")
        }
        let before = try SSHDServer.test()
        guard before.succeeded else {
            throw .failure("sshd -t finds the present configuration broken, before any change:\n  \(before.message)\nNothing was changed. Fix \(SSHDServer.config) first, then run setup again")
        }
        let precedence = try SSHDConfigFile.check(main: SSHDServer.config, dropIn: SSHDServer.dropIn, method: request.method)
        if !precedence.conflicts.isEmpty { throw conflictError(precedence.conflicts) }
        let today = try SSHDServer.effective()
        if request.method == .publickey {
            let bypasses = precedence.matchOverrides.filter(SSHDConfigFile.skipsKey)
            if !bypasses.isEmpty { throw keyBypassError(bypasses, passwordAuthentication: today["passwordauthentication"] ?? "yes") }
        }
        for line in precedence.matchOverrides {
            Console.error("twostep: warning: \(line.file) line \(line.number): '\(line.text)' is in a Match block: it overrides the drop-in for the connections that block matches")
        }
        let lockedOut = SSHDLoginAccounts.lockedOut(method: request.method, effective: today)
        let missing = request.enforce ? SSHDLoginAccounts.unenrolled(effective: today, configuration: configuration) : []
        if !request.force && (!lockedOut.isEmpty || !missing.isEmpty) {
            throw lockOutRefusal(method: request.method, lockedOut: lockedOut, unenrolled: missing)
        }
        let edit = try SSHDPAMStack.edit(pam.bytes, path: SSHDServer.pamFile, method: request.method,
                                         module: request.module, nullok: !request.enforce)
        for warning in edit.warnings { Console.error("twostep: warning: \(warning)") }

        // The copies first, and a state that --undo can use if we stop half-way.
        var state = SetupState(
            token: String(UInt64.random(in: .min ... .max), radix: 16), phase: .applying, method: request.method,
            enforce: request.enforce, module: request.module, reload: request.reload.resolved, timeout: request.timeout)
        let login = SetupLogin.current()
        state.auditSession = login.auditSession
        state.setupBy = login.description
        state.bootID = SetupLogin.bootID()
        let dropInDirectory = SetupFile.directory(of: SSHDServer.dropIn)
        var st = stat()
        if lstat(dropInDirectory, &st) != 0 { state.createdDirectories.append(dropInDirectory) }
        let changes: [(old: SetupFile, new: [UInt8])] = [(dropIn, Array(request.method.dropIn.utf8)), (pam, edit.bytes)]
        for (i, change) in changes.enumerated() {
            let old = change.old
            state.files.append(SetupState.File(index: i + 1, path: old.path, existed: old.exists,
                                               mode: old.exists ? old.mode : 0o644, uid: old.exists ? old.uid : 0,
                                               gid: old.exists ? old.gid : 0))
            try directory.keep(i + 1, old: old, new: change.new)
        }
        try directory.save(state)

        var reloaded = false
        do {
            for dir in state.createdDirectories where mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw CLIError.failure("cannot make \(dir): \(SetupProgram.errorText())")
            }
            for change in changes { try change.old.with(change.new).put() }
            let test = try SSHDServer.test()
            guard test.succeeded else {
                throw CLIError.failure("sshd -t refuses the configuration with setup's changes:\n  \(test.message)")
            }
            let effective = try SSHDServer.effective()
            let wrong = request.method.settings.filter { effective[$0.name.lowercased()]?.lowercased() != $0.value.lowercased() }
            guard wrong.isEmpty else {
                let list = wrong.map { "\($0.name) is '\(effective[$0.name.lowercased()] ?? "not set")', not '\($0.value)'" }
                throw CLIError.failure("sshd -T shows other values than the drop-in's: \(list.joined(separator: "; ")). Something in \(SSHDServer.config) or its Include files wins over \(SSHDServer.dropIn)")
            }
            // The timer before the reload: from the moment sshd uses the new
            // configuration, something must be there to take it back.
            state.phase = .pending
            state.deadline = Int(Clock.now) + request.timeout
            try directory.save(state)
            state.timer = try request.timer.start(for: state, log: directory.logPath)
            try directory.save(state)
            reloaded = true
            let reload = try SSHDServer.reload(state.reload)
            state.applied = Int(Clock.now)
            state.appliedTicks = SetupLogin.nowTicks()
            state.deadline = state.applied + request.timeout
            try directory.save(state)
            report(request, state: state, edit: edit, reload: reload, rootLogin: effective["permitrootlogin"] ?? "prohibit-password")
        } catch {
            SetupTimer.stop(state.timer)
            var problems = [String]()
            for change in changes.reversed() {
                do { try change.old.put() } catch { problems.append("\(error)") }
            }
            for dir in state.createdDirectories.reversed() { rmdir(dir) }
            if reloaded { _ = try? SSHDServer.reload(state.reload) }
            if problems.isEmpty { try? directory.clear(state) }
            let what = problems.isEmpty
                ? "Nothing was changed: the files are as they were."
                : "Putting the files back failed too (\(problems.joined(separator: "; "))): run 'twostep setup --undo'."
            throw .failure("\(error)\n\(what)")
        }
    }

    static func report(_ request: Request, state: SetupState, edit: SSHDPAMStack.Edit, reload: String, rootLogin: String) {
        let settings = request.method.settings.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        Console.out("sshd now asks for \(request.method.summary).")
        Console.out("  \(SSHDServer.dropIn): \(state.files[0].existed ? "replaced" : "written"): \(settings)")
        for done in edit.done { Console.out("  \(SSHDServer.pamFile): \(done)") }
        Console.out("  sshd -t: the configuration is valid; sshd -T: these settings are in force")
        Console.out("  \(reload)")
        Console.out("  the old files are kept in \(SetupStateDirectory.path)/backup ('twostep setup --undo' puts them back)")
        Console.out()
        if request.enforce {
            Console.out("Enforced: a user who has not enrolled is refused (told to run 'twostep enroll').")
        } else {
            Console.out("Users who have not enrolled log in as before (nullok) until they run 'twostep enroll'.")
        }
        Console.out()
        Console.out("Nothing is final yet. Keep this session open, log in again from another terminal")
        // Under any PermitRootLogin but yes sshd refuses root the
        // keyboard-interactive step that asks for the code, with either method.
        Console.out(rootLogin != "yes"
            ? "as a user who can sudo (PermitRootLogin \(rootLogin): root cannot log in over ssh now), then with sudo run:"
            : "(ssh as root, or as yourself and then sudo) and run there:")
        Console.out()
        Console.out("    twostep setup --confirm")
        Console.out()
        Console.out("before \(Clock.local(Int64(state.deadline))) (\(request.timeout) s from now). Otherwise everything is undone by itself then")
        Console.out("(\(timerDescription(state.timer))).")
    }

    // MARK: Pieces

    static func alreadySetUp(_ state: SetupState) -> CLIError {
        switch state.phase {
        case .pending:
            return .usage("a set-up is waiting for its confirmation (until \(Clock.local(Int64(state.deadline)))): confirm it with 'twostep setup --confirm' from a new login, or take it back with 'twostep setup --undo'")
        case .confirmed:
            return .usage("sshd is already set up (--method \(state.method.rawValue), confirmed at \(Clock.local(Int64(state.confirmed ?? 0)))): run 'twostep setup --undo' first to set it up anew")
        case .applying:
            return .usage("a set-up stopped half-way: run 'twostep setup --undo' first")
        }
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

    /// The pam.d line names a module libpam can load: an absolute path
    /// that exists, or a file in the directory that holds pam_unix.so.
    static func checkModule(_ module: String) throws(CLIError) {
        if module.hasPrefix("/") {
            guard access(module, R_OK) == 0 else { throw .failure("--module \(module): no such file") }
            return
        }
        guard !module.contains("/") else { throw .usage("--module: a file name in the PAM module directory, or an absolute path") }
        let patterns = ["/lib/*/security/pam_unix.so", "/usr/lib/*/security/pam_unix.so", "/lib/security/pam_unix.so",
                        "/usr/lib/security/pam_unix.so", "/lib64/security/pam_unix.so", "/usr/lib64/security/pam_unix.so"]
        var directories = [String]()
        for pattern in patterns {
            var found = glob_t()
            defer { globfree(&found) }
            guard glob(pattern, 0, nil, &found) == 0 else { continue }
            for i in 0..<Int(found.gl_pathc) {
                if let p = found.gl_pathv[i] { directories.append(SetupFile.directory(of: String(cString: p))) }
            }
        }
        guard !directories.isEmpty else { return }  // cannot tell where libpam looks: trust the name
        guard directories.contains(where: { access($0 + "/" + module, R_OK) == 0 }) else {
            throw .failure("\(module) is not in \(directories[0]): with it missing every ssh login would fail. Install twostep first (make install, or the libpam-twostep package)")
        }
    }

    static func timerDescription(_ timer: SetupState.Timer?) -> String {
        switch timer {
        case .process(let pid, _): "undo timer: process \(pid), its log \(SetupStateDirectory().logPath)"
        case .systemd(let unit): "undo timer: systemd unit \(unit).timer"
        case nil: "no undo timer"
        }
    }

    /// A dropped connection or a ^C must not stop setup or undo half-way
    /// (between writing the files and starting the timer, say): the
    /// signals of the terminal and SIGTERM are ignored while they work, and
    /// a closed terminal or pipe makes writes fail instead of killing the
    /// process. (The programs they run get every signal back at its default.)
    static func holdSignals() {
        for s in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE] { signal(s, SIG_IGN) }
    }

    /// A line of the timer's log, with the time.
    static func log(_ line: String) {
        Console.out("\(Clock.local(Clock.now)) \(line)")
    }
}

private extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
