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
        /// `--security-keys` (`.off` without it).
        var securityKeys: SecurityKeyPolicy = .off

        /// The set-up `state` was made with these options (then there is
        /// nothing to replace).
        func matches(_ state: SetupState) -> Bool {
            state.method == method && state.enforce == enforce && state.securityKeys == securityKeys && state.module == module
        }
    }

    /// One file the apply writes: as it was before any set-up (`original`,
    /// what --undo brings back), what the apply makes it (`new`), and as it
    /// is now (`current`, what a failed apply puts back; with a replace,
    /// the previous set-up's version).
    struct Change {
        /// Its copies in the state directory: 1 the drop-in, 2 /etc/pam.d/sshd, 3 twostep.conf.
        var index: Int
        var original: SetupFile
        var new: SetupFile
        var current: SetupFile
        /// False for a file only the replaced set-up had changed: it is put back to its original.
        var kept = true
        /// Written once sshd has reloaded (twostep.conf's security_keys=,
        /// which must not count keys before sshd enforces PubkeyAuthOptions).
        var late = false
    }

    // MARK: Apply

    static func apply(_ request: Request) throws(CLIError) {
        holdSignals()
        let directory = SetupStateDirectory(.sshd)
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        let base = try SetupBase.load(.sshd, same: request.matches, alreadySetUp: alreadySetUp)
        let previous = base.previous, neighbour = base.neighbour
        func original(_ path: String) throws(CLIError) -> SetupFile { try base.original(path) }
        let setUp = SSHDDropIn(method: request.method, securityKeys: request.securityKeys)

        // Everything is checked before anything is written.
        let configuration = try SystemSettings.load()
        if request.enforce && configuration.options.nullok {
            throw .usage("--enforce: \(SystemSettings.path) sets nullok=yes, which every pam_twostep line inherits (a pam.d line cannot turn it off). Take nullok out of that file, then run setup again")
        }
        try checkModule(request.module)
        let main = try SetupFile.read(SSHDServer.config)
        guard main.exists else { throw .failure("\(SSHDServer.config) does not exist: is openssh-server installed?") }
        let pam = try original(SSHDServer.pamFile)
        guard pam.exists else { throw .failure("\(SSHDServer.pamFile) does not exist: is openssh-server installed?") }
        let dropIn = try original(SSHDServer.dropIn)
        if request.method == .password, let common = try? SetupFile.read(SSHDServer.commonAuth),
           let line = SSHDPAMStack.twoStepLines(in: common.bytes).first {
            throw .usage("\(SSHDServer.commonAuth) line \(line.number) uses pam_twostep already ('\(line.text)': the pam-auth-update profile twostep is on?), and sshd includes common-auth: with sshd's own line a login would be asked for two codes. Keep one: 'pam-auth-update --disable twostep', or leave sshd's files as they are")
        }
        let before = try SSHDServer.test()
        guard before.succeeded else {
            throw .failure("sshd -t finds the present configuration broken, before any change:\n  \(before.message)\nNothing was changed. Fix \(SSHDServer.config) first, then run setup again")
        }
        let precedence = try SSHDConfigFile.check(main: SSHDServer.config, dropIn: SSHDServer.dropIn, setUp: setUp)
        if !precedence.conflicts.isEmpty { throw conflictError(precedence.conflicts) }
        let today = try SSHDServer.effective()
        if request.method == .publickey {
            let bypasses = precedence.matchOverrides.filter(SSHDConfigFile.skipsKey)
            if !bypasses.isEmpty { throw keyBypassError(bypasses, passwordAuthentication: today["passwordauthentication"] ?? "yes") }
        }
        let weakening = precedence.matchOverrides.filter { SSHDConfigFile.weakensKeyOptions($0, for: request.securityKeys) }
        if !weakening.isEmpty { throw keyOptionsError(weakening, policy: request.securityKeys) }
        for line in precedence.matchOverrides {
            Console.error("twostep: warning: \(line.file) line \(line.number): '\(line.text)' is in a Match block: it overrides the drop-in for the connections that block matches")
        }
        let lockedOut = SSHDLoginAccounts.lockedOut(method: request.method, effective: today)
        let missing = request.enforce ? SSHDLoginAccounts.unenrolled(effective: today, configuration: configuration) : []
        if !request.force && (!lockedOut.isEmpty || !missing.isEmpty) {
            throw lockOutRefusal(method: request.method, lockedOut: lockedOut, unenrolled: missing)
        }
        let part = SSHDPAMComposition.SSHDPart(method: request.method, module: request.module, nullok: !request.enforce)
        let edit = try SSHDPAMComposition(sshd: part, sudoModule: neighbour?.state.module).apply(to: pam.bytes, path: SSHDServer.pamFile)
        for warning in edit.warnings { Console.error("twostep: warning: \(warning)") }
        var changes = [Change]()
        func change(_ index: Int, _ old: SetupFile, _ new: [UInt8], late: Bool = false) throws(CLIError) {
            changes.append(Change(index: index, original: old, new: old.with(new), current: try SetupFile.read(old.path), late: late))
        }
        try change(1, dropIn, Array(setUp.text.utf8))
        try change(2, pam, edit.bytes)
        if request.securityKeys.isOn {
            let conf = try original(SystemSettings.path)
            try change(3, conf, try SetupConfigurationEdit.securityKeys(request.securityKeys, in: conf.bytes, path: conf.path), late: true)
        }
        for file in previous?.state.files ?? [] {
            if let same = changes.first(where: { $0.index == file.index }), same.new.path != file.path {
                throw .usage("the set-up in force changed \(file.path), this one would change \(same.new.path) (TWOSTEP_CONFIG?): run 'twostep setup --undo' first")
            }
        }
        for file in previous?.state.files ?? [] where !changes.contains(where: { $0.index == file.index }) {
            let old = try original(file.path)
            changes.append(Change(index: file.index, original: old, new: old, current: try SetupFile.read(file.path), kept: false))
        }

        // The copies first, and a state that --undo can use if we stop
        // half-way (every file in it, so such an undo puts each one back).
        var state = SetupState(
            token: SetupState.newToken(), phase: .applying, method: request.method,
            enforce: request.enforce, module: request.module, reload: request.reload.resolved, timeout: request.timeout)
        state.securityKeys = request.securityKeys
        state.noteStart()
        state.createdDirectories = previous?.state.createdDirectories ?? []
        var made = [String]()
        for change in changes where change.kept {
            let dir = SetupFile.directory(of: change.new.path)
            var st = stat()
            if lstat(dir, &st) != 0 && !made.contains(dir) { made.append(dir) }
        }
        state.createdDirectories += made
        for change in changes {
            let old = change.original
            state.files.append(SetupState.File(index: change.index, path: old.path, existed: old.exists,
                                               mode: old.exists ? old.mode : 0o644, uid: old.exists ? old.uid : 0,
                                               gid: old.exists ? old.gid : 0))
        }

        var reloaded = false
        var writing = false
        do {
            // (Inside: a replaced set-up's copies are overwritten here, and reinstated on a failure.)
            for change in changes { try directory.keep(change.index, old: change.original, new: change.new.bytes) }
            try directory.save(state)
            if let previous, previous.state.phase == .pending { SetupTimer.stop(previous.state.timer) }
            for dir in made where mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw CLIError.failure("cannot make \(dir): \(SetupProgram.errorText())")
            }
            writing = true
            for change in changes where !change.late { try change.new.put() }
            let test = try SSHDServer.test()
            guard test.succeeded else {
                throw CLIError.failure("sshd -t refuses the configuration with setup's changes:\n  \(test.message)")
            }
            let effective = try SSHDServer.effective()
            let wrong = setUp.settings.filter { effective[$0.name.lowercased()]?.lowercased() != $0.value.lowercased() }
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
            for change in changes where change.late { try change.new.put() }
            state.files.removeAll { file in !changes.contains { $0.index == file.index && $0.kept } }
            // Directories the replaced set-up made for a file it alone had (/etc/twostep).
            for dir in state.createdDirectories.reversed() where !state.files.contains(where: { SetupFile.directory(of: $0.path) == dir }) {
                if rmdir(dir) == 0 { state.createdDirectories.removeAll { $0 == dir } }
            }
            state.applied = Int(Clock.now)
            state.appliedTicks = SetupLogin.nowTicks()
            state.deadline = state.applied + request.timeout
            try directory.save(state)
            try neighbour?.rewrote(SSHDServer.pamFile, bytes: edit.bytes)
            previous?.forget(keeping: state.files.map(\.index))
            report(request, state: state, edit: edit, reload: reload, rootLogin: effective["permitrootlogin"] ?? "prohibit-password",
                   replaced: previous?.description, sudoToo: neighbour != nil)
        } catch {
            SetupTimer.stop(state.timer)
            var problems = [String]()
            for change in changes.reversed() where writing {
                do { try change.current.put() } catch { problems.append("\(error)") }
            }
            for dir in made.reversed() { rmdir(dir) }
            if reloaded { _ = try? SSHDServer.reload(state.reload) }
            if problems.isEmpty {
                if let previous {
                    do { try previous.reinstate(timer: request.timer, madeIndexes: changes.map(\.index)) } catch { problems.append("\(error)") }
                } else {
                    try? directory.clear(state)
                }
            }
            let what = !problems.isEmpty
                ? "Putting the files back failed too (\(problems.joined(separator: "; "))): run 'twostep setup --undo'."
                : previous.map { "The set-up in force (\($0.description)) is back as it was: its files and its state." }
                    ?? "Nothing was changed: the files are as they were."
            throw .failure("\(error)\n\(what)")
        }
    }

    /// `sudoToo`: setup sudo is set up as well, so a bare --confirm or
    /// --undo would not know which: the commands name sshd.
    static func report(_ request: Request, state: SetupState, edit: SSHDPAMStack.Edit, reload: String, rootLogin: String,
                       replaced: String?, sudoToo: Bool) {
        let target = sudoToo ? " sshd" : ""
        let settings = state.dropIn.settings.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        if let replaced {
            Console.out("The set-up in force (\(replaced)) is replaced: its changes were taken back and these made, with one reload.")
        }
        Console.out("sshd now asks for \(request.method.summary)" + (request.securityKeys.isOn ? "; an enrolled security key replaces the code." : "."))
        Console.out("  \(SSHDServer.dropIn): \(state.files[0].existed ? "replaced" : "written"): \(settings)")
        for done in edit.done { Console.out("  \(SSHDServer.pamFile): \(done)") }
        if let conf = state.files.first(where: { $0.index == 3 }) {
            Console.out("  \(conf.path): security_keys=\(request.securityKeys.rawValue)" + (conf.existed ? "" : " (a new file)"))
        }
        Console.out("  sshd -t: the configuration is valid; sshd -T: these settings are in force")
        Console.out("  \(reload)")
        Console.out("  the old files are kept in \(SetupStateDirectory.path)/backup ('twostep setup --undo\(target)' puts them back)")
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
        Console.out("    twostep setup --confirm\(target)")
        Console.out()
        Console.out("before \(Clock.local(Int64(state.deadline))) (\(request.timeout) s from now). Otherwise everything is undone by itself then")
        Console.out("(\(timerDescription(state.timer, target: .sshd))).")
    }

    // MARK: Pieces

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

    static func timerDescription(_ timer: SetupState.Timer?, target: SetupTarget) -> String {
        switch timer {
        case .process(let pid, _): "undo timer: process \(pid), its log \(SetupStateDirectory(target).logPath)"
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
