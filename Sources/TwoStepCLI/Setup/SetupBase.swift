/// What an apply of `target` starts from, read under the setup lock: the
/// set-up of the same target in force (a new one replaces it in one step)
/// and the other target's, whose lines in /etc/pam.d/sshd stay
/// (`SSHDPAMComposition`).
struct SetupBase {
    let target: SetupTarget
    let directory: SetupStateDirectory
    /// The set-up of this target in force, to be replaced.
    let previous: SetupReplacement?
    /// The other target's set-up.
    let neighbour: SetupNeighbour?

    /// Loads both. `same`: whether the set-up in force has the options asked
    /// for (then `alreadySetUp` says so); one that stopped half-way is
    /// refused the same way.
    static func load(_ target: SetupTarget, same: (SetupState) -> Bool,
                     alreadySetUp: (SetupState) -> CLIError) throws(CLIError) -> SetupBase {
        let directory = SetupStateDirectory(target)
        var previous: SetupReplacement?
        if let state = try directory.load() {
            guard state.phase != .applying, !same(state) else { throw alreadySetUp(state) }
            previous = try SetupReplacement(state, directory: directory)
        }
        return SetupBase(target: target, directory: directory, previous: previous,
                         neighbour: try SetupNeighbour.load(target.other))
    }

    /// `path` as it was before any set-up: the previous set-up's copy when
    /// it changed it, else the other target's when that changed it, else
    /// the file as it is.
    func original(_ path: String) throws(CLIError) -> SetupFile {
        if let file = previous?.original(path) { return file }
        if let file = try neighbour?.base(path) { return file }
        return try SetupFile.read(path)
    }
}
