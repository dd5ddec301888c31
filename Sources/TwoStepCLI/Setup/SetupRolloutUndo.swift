import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `setup --undo` and `--confirm`: the set-up's later life (`--status`: SetupRolloutStatus.swift).
extension SetupRollout {
    // MARK: Undo

    /// Puts every file back. `token`: the undo timer's run, which waits for
    /// the deadline and acts only when that set-up is still pending.
    static func undo(afterTimeout token: String?) throws(CLIError) {
        let directory = SetupStateDirectory()
        if let token {
            guard SetupTimer.wait(for: token, in: directory) else {
                log("set-up \(token) was confirmed or undone: nothing to do")
                return
            }
        }
        holdSignals()
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        guard let state = try directory.load() else {
            if token != nil { return }
            throw .usage("nothing to undo: twostep setup has not changed sshd's configuration (no \(directory.statePath))")
        }
        if let token {
            guard state.token == token, state.phase == .pending, Int(Clock.now) >= state.deadline else {
                log("set-up \(token) was confirmed or undone: nothing to do")
                return
            }
            log("not confirmed by \(Clock.local(Int64(state.deadline))): undoing")
        }
        var lines = [String]()
        var problems = [String]()
        for file in state.files.reversed() {
            do {
                lines.append(try restore(file, directory: directory))
            } catch {
                problems.append("\(error)")
            }
        }
        for dir in state.createdDirectories.reversed() {
            if rmdir(dir) == 0 { lines.append("\(dir): removed (setup had made it)") }
        }
        guard problems.isEmpty else {
            throw .failure("could not put everything back: \(problems.joined(separator: "; ")). The copies are in \(SetupStateDirectory.path)/backup; run 'twostep setup --undo' again")
        }
        let reload: String
        do { reload = try SSHDServer.reload(state.reload) } catch { reload = "could not reload sshd: \(error); reload it by hand" }
        if token == nil { SetupTimer.stop(state.timer) }
        try directory.clear(state)
        let heading = token == nil
            ? "sshd's configuration is as it was before 'twostep setup sshd':"
            : "Not confirmed in time: sshd's configuration is as it was before 'twostep setup sshd':"
        if token != nil {
            log(heading)
            for line in lines + [reload] { log("  " + line) }
        } else {
            Console.out(heading)
            for line in lines + [reload] { Console.out("  " + line) }
        }
    }

    /// Restores one file from its copy (or removes it when setup made it);
    /// a file edited since setup wrote it is kept in the state directory first.
    static func restore(_ file: SetupState.File, directory: SetupStateDirectory) throws(CLIError) -> String {
        var note = ""
        if let current = try? SetupFile.read(file.path), current.exists,
           let written = try? SetupFile.read(directory.written(file.index)), written.exists, current.bytes != written.bytes {
            let kept = SetupStateDirectory.path + "/edited-\(file.index)-\(Int(Clock.now))"
            try SetupFile.write(current.bytes, to: kept, mode: 0o600, uid: 0, gid: 0)
            note = " (it had been edited since setup wrote it: that version is kept as \(kept))"
        }
        if file.existed {
            let copy = try SetupFile.read(directory.backup(file.index))
            guard copy.exists else { throw .failure("the copy of \(file.path), \(directory.backup(file.index)), is missing") }
            try SetupFile.write(copy.bytes, to: file.path, mode: mode_t(file.mode), uid: file.uid, gid: file.gid)
            return "\(file.path): restored byte for byte\(note)"
        }
        if unlink(file.path) != 0 && errno != ENOENT {
            throw .failure("cannot remove \(file.path): \(SetupProgram.errorText())")
        }
        SetupFile.syncDirectory(of: file.path)
        return "\(file.path): removed (setup had created it)\(note)"
    }

    // MARK: Confirm

    static func confirm() throws(CLIError) {
        let directory = SetupStateDirectory()
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        guard var state = try directory.load() else {
            throw .usage("nothing to confirm: twostep setup has not changed sshd's configuration")
        }
        switch state.phase {
        case .confirmed:
            Console.out("Already confirmed at \(Clock.local(Int64(state.confirmed ?? 0))).")
            return
        case .applying:
            throw .failure("a set-up stopped half-way (\(directory.statePath) says 'applying'): run 'twostep setup --undo'")
        case .pending:
            break
        }
        guard Int(Clock.now) < state.deadline else {
            throw .refused("too late: the time to confirm ran out at \(Clock.local(Int64(state.deadline))), and the change is being undone")
        }
        let login = SetupLogin.current()
        if let why = login.refusal(for: state) {
            throw .refused("not confirmed: \(why). Without a confirmation the change is undone by itself at \(Clock.local(Int64(state.deadline))) (in \(state.deadline - Int(Clock.now)) s)")
        }
        let timer = state.timer
        state.phase = .confirmed
        state.confirmed = Int(Clock.now)
        state.confirmedBy = login.description
        state.timer = nil
        try directory.save(state)
        SetupTimer.stop(timer)
        Console.out("Confirmed: sshd keeps asking for \(state.method.summary). The undo timer is stopped.")
        Console.out("'twostep setup --undo' takes the change back at any time.")
    }
}
