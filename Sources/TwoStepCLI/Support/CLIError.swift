/// A command's failure, with the exit code it maps to (SPEC §4).
enum CLIError: Error, CustomStringConvertible {
    /// The command line or an answer cannot be used: exit 2.
    case usage(String)
    /// A code was refused, a lock-out runs, or two-step verification is off: exit 1.
    case refused(String)
    /// The factor file or the system failed us: exit 3.
    case failure(String)

    var description: String {
        switch self {
        case .usage(let m), .refused(let m), .failure(let m): m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: ExitStatus.usage
        case .refused: ExitStatus.refused
        case .failure: ExitStatus.fileProblem
        }
    }
}
