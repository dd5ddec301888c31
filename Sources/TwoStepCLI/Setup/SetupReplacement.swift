import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// The set-up in force when `setup sshd` runs again with other options,
/// which the new one replaces in one step (SPEC §11): undo, then apply,
/// with one confirmation, under the one lock.
///
/// The undo is folded into the apply: every file the previous set-up
/// changed counts as it was before that set-up (its copy in backup/), so
/// the new set-up's checks, edits and copies start from the original files
/// and a later `--undo` goes straight back to them; a file only the
/// previous set-up changed is put back with the others, and sshd is
/// reloaded once. When the apply fails, `reinstate` makes the previous
/// set-up as it was: its state, its copies and, when it was pending, its
/// undo timer (with its own deadline).
struct SetupReplacement {
    let state: SetupState
    let directory: SetupStateDirectory
    /// The state directory's copies of each file: backup/N (as it was
    /// before the previous set-up) and written/N (as it wrote it).
    private var copies: [Int: (backup: SetupFile, written: SetupFile)] = [:]

    /// Reads the previous set-up's copies. A file edited since that set-up
    /// wrote it is refused: folding the undo in would drop the edit
    /// (`--undo` keeps it aside and is the way then).
    init(_ state: SetupState, directory: SetupStateDirectory) throws(CLIError) {
        self.state = state
        self.directory = directory
        for file in state.files {
            let backup = try SetupFile.read(directory.backup(file.index))
            guard backup.exists || !file.existed else {
                throw .failure("the copy of \(file.path), \(directory.backup(file.index)), is missing: setup cannot replace the set-up in force. Nothing was changed")
            }
            let written = try SetupFile.read(directory.written(file.index))
            let current = try SetupFile.read(file.path)
            guard written.exists, current.exists, current.bytes == written.bytes else {
                throw .failure("\(file.path) was \(current.exists ? "edited" : "removed") since 'twostep setup \(state.target.rawValue)' wrote it, so setup does not replace the set-up in force. Run 'twostep setup --undo \(state.target.rawValue)' (it keeps the edited version aside), then set up again. Nothing was changed")
            }
            copies[file.index] = (backup, written)
        }
    }

    /// `path` as it was before the previous set-up, when that set-up changed it.
    func original(_ path: String) -> SetupFile? {
        guard let file = state.files.first(where: { $0.path == path }), let copy = copies[file.index] else { return nil }
        return SetupFile(path: path, exists: file.existed, bytes: file.existed ? copy.backup.bytes : [],
                         mode: mode_t(file.mode), uid: file.uid, gid: file.gid)
    }

    /// The previous set-up's options, for the messages.
    var description: String {
        "--method \(state.method.rawValue)" + (state.securityKeys.isOn ? " --security-keys \(state.securityKeys.rawValue)" : "")
            + (state.enforce ? " --enforce" : "") + ", \(state.phase == .confirmed ? "confirmed" : "pending")"
    }

    /// After the new set-up is in force: the copies only the previous one had.
    func forget(keeping indexes: [Int]) {
        for index in copies.keys where !indexes.contains(index) {
            unlink(directory.backup(index))
            unlink(directory.written(index))
        }
    }

    /// After a failed replace (the files are back as the previous set-up
    /// left them): its copies and state again, copies the new one made
    /// removed, and a pending set-up's timer started again for its own deadline.
    func reinstate(timer: SetupTimer, madeIndexes: [Int]) throws(CLIError) {
        for index in madeIndexes where copies[index] == nil {
            unlink(directory.backup(index))
            unlink(directory.written(index))
        }
        for (index, copy) in copies {
            if copy.backup.exists { try SetupFile.write(copy.backup.bytes, to: directory.backup(index), mode: 0o600, uid: 0, gid: 0) }
            try SetupFile.write(copy.written.bytes, to: directory.written(index), mode: 0o600, uid: 0, gid: 0)
        }
        var state = self.state
        state.timer = nil
        try directory.save(state)  // before the timer starts: it looks for this token
        if state.phase == .pending {
            var timing = state
            timing.timeout = max(1, state.deadline - Int(Clock.now))
            state.timer = try timer.start(for: timing, log: directory.logPath)
            try directory.save(state)
        }
    }
}
