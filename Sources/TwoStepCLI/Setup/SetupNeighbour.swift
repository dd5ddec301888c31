#if canImport(Glibc)
import Glibc
#endif

/// The other target's set-up, seen from the one being applied or undone:
/// both edit /etc/pam.d/sshd (`SSHDPAMComposition`), so each keeps that
/// file's base (as it was before either) in its backup/, and when one
/// rewrites the file the other's written/ copy follows, so that the other
/// does not take it for a file an administrator edited.
struct SetupNeighbour {
    let state: SetupState
    let directory: SetupStateDirectory

    /// The set-up of `target` (the other one), nil when it has none;
    /// refused when it stopped half-way, unless `halfWay` (an undo keeps
    /// the lines of such a set-up too: its own undo takes them out).
    static func load(_ target: SetupTarget, halfWay: Bool = false) throws(CLIError) -> SetupNeighbour? {
        let directory = SetupStateDirectory(target)
        guard let state = try directory.load() else { return nil }
        guard state.phase != .applying || halfWay else {
            throw .usage("a 'twostep setup \(target.rawValue)' stopped half-way (\(directory.statePath) says 'applying'): run 'twostep setup --undo \(target.rawValue)' first")
        }
        return SetupNeighbour(state: state, directory: directory)
    }

    /// Its entry for `path`, when it changed that file.
    func file(_ path: String) -> SetupState.File? {
        state.files.first { $0.path == path }
    }

    /// `path` as it was before either set-up (its copy), when this set-up
    /// changed it. A file edited since it wrote it is refused: writing the
    /// composition would drop the edit (`--undo` keeps it aside).
    func base(_ path: String) throws(CLIError) -> SetupFile? {
        guard let file = file(path) else { return nil }
        let written = try SetupFile.read(directory.written(file.index))
        let current = try SetupFile.read(path)
        guard written.exists, current.exists, current.bytes == written.bytes else {
            throw .failure("\(path) was \(current.exists ? "edited" : "removed") since 'twostep setup \(state.target.rawValue)' wrote it, so setup does not change it again. Run 'twostep setup --undo \(state.target.rawValue)' (it keeps the edited version aside), then set up again. Nothing was changed")
        }
        let backup = try SetupFile.read(directory.backup(file.index))
        guard backup.exists || !file.existed else {
            throw .failure("the copy of \(path), \(directory.backup(file.index)), is missing: setup cannot tell the file's lines from 'twostep setup \(state.target.rawValue)'s. Nothing was changed")
        }
        return SetupFile(path: path, exists: file.existed, bytes: file.existed ? backup.bytes : [],
                         mode: mode_t(file.mode), uid: file.uid, gid: file.gid)
    }

    /// After `path` was rewritten with `bytes`: the set-up's copy of it as written.
    func rewrote(_ path: String, bytes: [UInt8]) throws(CLIError) {
        guard let file = file(path) else { return }
        try SetupFile.write(bytes, to: directory.written(file.index), mode: 0o600, uid: 0, gid: 0)
    }

    /// Its part of /etc/pam.d/sshd.
    var composition: SSHDPAMComposition {
        state.target == .sshd ? SSHDPAMComposition(sshd: state, sudo: nil) : SSHDPAMComposition(sshd: nil, sudo: state)
    }
}
