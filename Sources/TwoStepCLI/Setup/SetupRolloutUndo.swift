import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `setup --undo` and `--confirm`: the set-up's later life (`--status`: SetupRolloutStatus.swift).
extension SetupRollout {
    // MARK: Undo

    /// Puts every file of `target`'s set-up back. `token`: the undo
    /// timer's run, which waits for the deadline and acts only when that
    /// set-up is still pending.
    static func undo(_ target: SetupTarget, afterTimeout token: String?) throws(CLIError) {
        let directory = SetupStateDirectory(target)
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
            throw .usage("nothing to undo: twostep setup has not set up \(target.rawValue) (no \(directory.statePath))")
        }
        // The other target's lines in a file both edit stay. (A state of it
        // that cannot be read does not stop the undo: the file is then put
        // back whole, as this target found it.)
        let neighbour = try? SetupNeighbour.load(target.other, halfWay: true)
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
                lines.append(try restore(file, directory: directory, neighbour: neighbour))
            } catch {
                problems.append("\(error)")
            }
        }
        for dir in state.createdDirectories.reversed() {
            if rmdir(dir) == 0 { lines.append("\(dir): removed (setup had made it)") }
        }
        guard problems.isEmpty else {
            throw .failure("could not put everything back: \(problems.joined(separator: "; ")). The copies are in \(directory.root)/backup; run 'twostep setup --undo \(target.rawValue)' again")
        }
        // sudo and sshd read pam.d files at every login: only sshd_config needs a reload.
        var reload = [String]()
        if target == .sshd {
            do { reload = [try SSHDServer.reload(state.reload)] } catch { reload = ["could not reload sshd: \(error); reload it by hand"] }
        }
        if token == nil { SetupTimer.stop(state.timer) }
        try directory.clear(state)
        let what = target == .sshd ? "sshd's configuration is as it was" : "sudo's and sshd's PAM files are as they were"
        let heading = token == nil
            ? "\(what) before 'twostep setup \(target.rawValue)':"
            : "Not confirmed in time: \(what) before 'twostep setup \(target.rawValue)':"
        if token != nil {
            log(heading)
            for line in lines + reload { log("  " + line) }
        } else {
            Console.out(heading)
            for line in lines + reload { Console.out("  " + line) }
        }
    }

    /// Restores one file from its copy (or removes it when setup made it);
    /// a file edited since setup wrote it is kept in the state directory
    /// first. A file the other target (`neighbour`) changed too gets that
    /// target's lines alone, made again on the copy (`SSHDPAMComposition`),
    /// and the neighbour's copy of it as written follows.
    static func restore(_ file: SetupState.File, directory: SetupStateDirectory, neighbour: SetupNeighbour?) throws(CLIError) -> String {
        var note = ""
        if let current = try? SetupFile.read(file.path), current.exists,
           let written = try? SetupFile.read(directory.written(file.index)), written.exists, current.bytes != written.bytes {
            let kept = directory.edited(file.index, at: Int(Clock.now))
            try SetupFile.write(current.bytes, to: kept, mode: 0o600, uid: 0, gid: 0)
            note = " (it had been edited since setup wrote it: that version is kept as \(kept))"
        }
        if file.existed {
            let copy = try SetupFile.read(directory.backup(file.index))
            guard copy.exists else { throw .failure("the copy of \(file.path), \(directory.backup(file.index)), is missing") }
            if let neighbour, neighbour.file(file.path) != nil {
                let kept = try neighbour.composition.apply(to: copy.bytes, path: file.path)
                try SetupFile.write(kept.bytes, to: file.path, mode: mode_t(file.mode), uid: file.uid, gid: file.gid)
                try neighbour.rewrote(file.path, bytes: kept.bytes)
                let other = neighbour.state.target.rawValue
                return "\(file.path): the lines of 'twostep setup \(directory.target.rawValue)' taken out; those of 'twostep setup \(other)' stay\(note)"
            }
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

    static func confirm(_ target: SetupTarget) throws(CLIError) {
        let directory = SetupStateDirectory(target)
        let lock = try directory.lock()
        defer { lock.unlock() }  // and closed as it goes
        guard var state = try directory.load() else {
            throw .usage("nothing to confirm: twostep setup has not set up \(target.rawValue)")
        }
        switch state.phase {
        case .confirmed:
            Console.out("Already confirmed at \(Clock.local(Int64(state.confirmed ?? 0))).")
            return
        case .applying:
            throw .failure("a set-up stopped half-way (\(directory.statePath) says 'applying'): run 'twostep setup --undo \(target.rawValue)'")
        case .pending:
            break
        }
        guard Int(Clock.now) < state.deadline else {
            throw .refused("too late: the time to confirm ran out at \(Clock.local(Int64(state.deadline))), and the change is being undone")
        }
        let login = SetupLogin.current()
        if let why = target == .sshd ? login.refusal(for: state) : SetupLogin.sudoRefusal(for: state) {
            throw .refused("not confirmed: \(why). Without a confirmation the change is undone by itself at \(Clock.local(Int64(state.deadline))) (in \(state.deadline - Int(Clock.now)) s)")
        }
        let timer = state.timer
        state.phase = .confirmed
        state.confirmed = Int(Clock.now)
        state.confirmedBy = login.description
        state.timer = nil
        try directory.save(state)
        SetupTimer.stop(timer)
        switch target {
        case .sshd: Console.out("Confirmed: sshd keeps asking for \(state.method.summary). The undo timer is stopped.")
        case .sudo: Console.out("Confirmed: sudo keeps trusting a login verified less than \(state.recent) s ago. The undo timer is stopped.")
        }
        Console.out("'twostep setup --undo \(target.rawValue)' takes the change back at any time.")
    }
}

// MARK: Which target

extension SetupRollout {
    /// The target a bare `--undo` (or `--confirm`: `confirming`) acts on:
    /// the only one set up (for --confirm, the only one pending when both
    /// are set up); a usage error naming both when that does not decide.
    static func onlyTarget(confirming: Bool) throws(CLIError) -> SetupTarget {
        var setUp = [(target: SetupTarget, state: SetupState)]()
        for target in SetupTarget.allCases {
            if let state = try SetupStateDirectory(target).load() { setUp.append((target, state)) }
        }
        let verb = confirming ? "confirm" : "undo"
        guard !setUp.isEmpty else {
            throw .usage("nothing to \(verb): twostep setup has set up neither sshd nor sudo")
        }
        let candidates = confirming && setUp.count > 1 ? setUp.filter { $0.state.phase == .pending } : setUp
        if candidates.count == 1 { return candidates[0].target }
        let list = setUp.map { "\($0.target.rawValue) (\($0.state.phase.rawValue))" }.joined(separator: " and ")
        let commands = SetupTarget.allCases.map { "'twostep setup --\(verb) \($0.rawValue)'" }.joined(separator: " or ")
        throw .usage("both targets are set up, \(list): say which to \(verb), \(commands)")
    }

    /// The target whose set-up has `token` (a timer started by a version
    /// that did not name the target); nil when none has.
    static func target(ofToken token: String) -> SetupTarget? {
        SetupTarget.allCases.first { (try? SetupStateDirectory($0).load())??.token == token }
    }
}
