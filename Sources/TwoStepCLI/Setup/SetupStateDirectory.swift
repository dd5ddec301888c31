import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// /var/lib/twostep-setup (root, 0700): what `twostep setup` keeps between
/// its runs, one set of files per target (`root`):
///
///     lock         flock(2)ed by every setup command while it works (one for all targets)
///     state        SetupState: the options, the deadline, the timer, the files
///     backup/N     file N exactly as it was before setup (absent: setup created it)
///     written/N    file N as setup wrote it (to tell whether it was edited since)
///     timer.log    what the detached undo timer printed
///
/// The sshd target's files are in the directory itself, where versions
/// before per-target state kept their one state (always sshd's): such a
/// set-up is read, confirmed, timed and undone in place, nothing to
/// migrate. The sudo target's are in sudo/.
///
/// Not in /var/lib/twostep, the store of `store=/var/lib/twostep/%u`, where
/// a user could be called "setup".
struct SetupStateDirectory {
    static let path = "/var/lib/twostep-setup"

    let target: SetupTarget

    init(_ target: SetupTarget) {
        self.target = target
    }

    /// This target's directory.
    var root: String { target == .sshd ? Self.path : Self.path + "/" + target.rawValue }
    var statePath: String { root + "/state" }
    var logPath: String { root + "/timer.log" }

    /// Makes the directories (and this target's backup/, written/) when
    /// missing; refuses one that is not a root-owned directory closed to
    /// group and others.
    func prepare() throws(CLIError) {
        let dirs = root == Self.path ? [Self.path] : [Self.path, root]
        for dir in dirs + [root + "/backup", root + "/written"] {
            do {
                _ = try PrivateDirectory.open(dir)
            } catch .io(_, _, let e) {
                throw .failure("cannot make \(dir): \(SetupProgram.errorText(e))")
            } catch {
                throw .failure("\(dir) must be a directory owned by root with mode 0700; refusing to use it")
            }
        }
    }

    /// Takes the lock (waiting for another setup command); released when
    /// the returned descriptor is closed or the process exits.
    func lock() throws(CLIError) -> FileDescriptor {
        try prepare()
        let path = Self.path + "/lock"
        do {
            let fd = try FileDescriptor(opening: path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            try fd.lock(.exclusive, wait: .untilAcquired, path: path)
            return fd
        } catch .io(_, let operation, let e) {
            throw .failure("cannot \(operation) \(path): \(SetupProgram.errorText(e))")
        } catch {
            throw .failure("cannot lock \(path): \(error)")
        }
    }

    /// The state; nil when setup has nothing in force.
    func load() throws(CLIError) -> SetupState? {
        let file = try SetupFile.read(statePath)
        guard file.exists else { return nil }
        return try SetupState(parsing: file.text, path: statePath)
    }

    func save(_ state: SetupState) throws(CLIError) {
        try SetupFile.write(Array(state.text.utf8), to: statePath, mode: 0o600, uid: 0, gid: 0)
    }

    /// Keeps `file` as it was (`backup/N`) and as setup writes it (`written/N`).
    func keep(_ index: Int, old: SetupFile, new: [UInt8]) throws(CLIError) {
        if old.exists { try SetupFile.write(old.bytes, to: backup(index), mode: 0o600, uid: 0, gid: 0) }
        try SetupFile.write(new, to: written(index), mode: 0o600, uid: 0, gid: 0)
    }

    func backup(_ index: Int) -> String { root + "/backup/\(index)" }
    func written(_ index: Int) -> String { root + "/written/\(index)" }

    /// Where undo keeps file N as it found it when it had been edited since setup wrote it.
    func edited(_ index: Int, at time: Int) -> String { root + "/edited-\(index)-\(time)" }

    /// Forgets the set-up: the state and the copies (the log stays).
    func clear(_ state: SetupState) throws(CLIError) {
        if unlink(statePath) != 0 && errno != ENOENT { throw .failure("cannot remove \(statePath): \(SetupProgram.errorText())") }
        for f in state.files {
            unlink(backup(f.index))
            unlink(written(f.index))
        }
        SetupFile.syncDirectory(of: statePath)
    }
}
