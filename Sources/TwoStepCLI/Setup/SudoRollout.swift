import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `twostep setup sudo`'s apply (SPEC §12): the step-up line in
/// /etc/pam.d/sudo, and `remember_session` and the session line in
/// /etc/pam.d/sshd, with the safety of `setup sshd`: copies first, an undo
/// timer of its own, and nothing final until `twostep setup --confirm
/// sudo` runs below a sudo that started after the change. Its undo,
/// confirmation and status are `SetupRollout`'s, for the sudo target.
enum SudoRollout {
    static let pamFile = "/etc/pam.d/sudo"

    /// What `twostep setup sudo` was asked to do.
    struct Request {
        /// `--recent`: seconds, 1 to 3600.
        var recent: Int
        var timeout: Int
        var module: String
        var timer: SetupTimer

        /// The set-up `state` was made with these options (then there is nothing to replace).
        func matches(_ state: SetupState) -> Bool {
            state.recent == recent && state.module == module
        }
    }

    static func apply(_ request: Request) throws(CLIError) {
        SetupRollout.holdSignals()
        let directory = SetupStateDirectory(.sudo)
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        let base = try SetupBase.load(.sudo, same: request.matches, alreadySetUp: alreadySetUp)
        let previous = base.previous, neighbour = base.neighbour
        func original(_ path: String) throws(CLIError) -> SetupFile { try base.original(path) }

        // Everything is checked before anything is written.
        try SetupRollout.checkModule(request.module)
        if let common = try? SetupFile.read(SSHDServer.commonAuth), let line = SSHDPAMStack.twoStepLines(in: common.bytes).first {
            throw .refused("\(SSHDServer.commonAuth) line \(line.number) runs pam_twostep already ('\(line.text)': the pam-auth-update profile twostep is on?), and sudo includes common-auth: with the step-up line too, sudo would ask for a code twice. Keep one: 'pam-auth-update --disable twostep' (then run setup sudo again), or leave sudo as it is. Nothing was changed")
        }
        let sudo = try original(pamFile)
        guard sudo.exists else { throw .failure("\(pamFile) does not exist: is sudo installed?") }
        let sudoEdit = try SudoPAMStack.sudo(sudo.bytes, path: pamFile, module: request.module, recent: request.recent)
        let sshd = try original(SSHDServer.pamFile)
        guard sshd.exists else { throw .failure("\(SSHDServer.pamFile) does not exist: is openssh-server installed?") }
        var composition = SSHDPAMComposition(sshd: neighbour?.state, sudo: nil)
        composition.sudoModule = request.module
        let sshdEdit = try composition.apply(to: sshd.bytes, path: SSHDServer.pamFile)
        for warning in sshdEdit.warnings { Console.error("twostep: note: \(warning)") }
        let changes = try [(1, sudo, sudoEdit.bytes), (2, sshd, sshdEdit.bytes)].map { (index, old, new) throws(CLIError) in
            SetupRollout.Change(index: index, original: old, new: old.with(new), current: try SetupFile.read(old.path))
        }

        var state = SetupState(
            token: SetupState.newToken(), phase: .applying, method: .password,
            enforce: false, module: request.module, reload: .auto, timeout: request.timeout)
        state.target = .sudo
        state.recent = request.recent
        state.noteStart()
        state.files = changes.map { change in
            let old = change.original
            return SetupState.File(index: change.index, path: old.path, existed: old.exists, mode: old.mode, uid: old.uid, gid: old.gid)
        }

        var writing = false
        do {
            for change in changes { try directory.keep(change.index, old: change.original, new: change.new.bytes) }
            try directory.save(state)
            if let previous, previous.state.phase == .pending { SetupTimer.stop(previous.state.timer) }
            writing = true
            for change in changes { try change.new.put() }
            // The timer before anything can count as a confirmation.
            state.phase = .pending
            state.deadline = Int(Clock.now) + request.timeout
            try directory.save(state)
            state.timer = try request.timer.start(for: state, log: directory.logPath)
            state.applied = Int(Clock.now)
            state.appliedTicks = SetupLogin.nowTicks()
            state.deadline = state.applied + request.timeout
            try directory.save(state)
            try neighbour?.rewrote(SSHDServer.pamFile, bytes: sshdEdit.bytes)
            report(request, state: state, edits: [(pamFile, sudoEdit), (SSHDServer.pamFile, sshdEdit)],
                   replaced: previous.map { "--recent \($0.state.recent)" })
        } catch {
            SetupTimer.stop(state.timer)
            var problems = [String]()
            for change in changes.reversed() where writing {
                do { try change.current.put() } catch { problems.append("\(error)") }
            }
            if problems.isEmpty {
                if let previous {
                    do { try previous.reinstate(timer: request.timer, madeIndexes: changes.map(\.index)) } catch { problems.append("\(error)") }
                } else {
                    try? directory.clear(state)
                }
            }
            let what = !problems.isEmpty
                ? "Putting the files back failed too (\(problems.joined(separator: "; "))): run 'twostep setup --undo sudo'."
                : previous.map { "The set-up in force (--recent \($0.state.recent)) is back as it was: its files and its state." }
                    ?? "Nothing was changed: the files are as they were."
            throw .failure("\(error)\n\(what)")
        }
    }

    /// `setup sudo` with the options of the set-up in force, or while one stopped half-way.
    static func alreadySetUp(_ state: SetupState) -> CLIError {
        switch state.phase {
        case .pending:
            .usage("a set-up with these options (--recent \(state.recent)) is waiting for its confirmation (until \(Clock.local(Int64(state.deadline)))): confirm it with 'sudo twostep setup --confirm sudo' from a login, or take it back with 'twostep setup --undo sudo'")
        case .confirmed:
            .usage("sudo is already set up so (--recent \(state.recent), confirmed at \(Clock.local(Int64(state.confirmed ?? 0)))). Other options replace it in one step; 'twostep setup --undo sudo' takes it back")
        case .applying:
            .usage("a set-up of sudo stopped half-way: run 'twostep setup --undo sudo' first")
        }
    }

    static func report(_ request: Request, state: SetupState, edits: [(String, SSHDPAMStack.Edit)], replaced: String?) {
        if let replaced {
            Console.out("The set-up of sudo in force (\(replaced)) is replaced: its changes were taken back and these made.")
        }
        Console.out("sudo now asks no code of a user whose ssh login passed the second step less than \(request.recent) s ago, in that login session.")
        for (path, edit) in edits {
            for done in edit.done { Console.out("  \(path): \(done)") }
        }
        Console.out("  the old files are kept in \(SetupStateDirectory(.sudo).root)/backup ('twostep setup --undo sudo' puts them back)")
        Console.out()
        Console.out("Nothing is final yet. Keep this session open, log in again from another terminal as a")
        Console.out("user who can sudo, and run there (sudo -k first, so that sudo goes through its new stack):")
        Console.out()
        Console.out("    sudo twostep setup --confirm sudo")
        Console.out()
        Console.out("before \(Clock.local(Int64(state.deadline))) (\(request.timeout) s from now). Otherwise it is undone by itself then")
        Console.out("(\(SetupRollout.timerDescription(state.timer, target: .sudo))).")
    }
}
