import TwoStepAccounts

/// A command's failure: the accounts layer's error, so that a command
/// fails the same way whether the file or twostepd did the work.
typealias CLIError = AccountError

extension AccountError {
    /// The exit code it maps to (SPEC §4).
    var exitCode: Int32 {
        switch self {
        case .usage: ExitStatus.usage
        case .refused: ExitStatus.refused
        case .failure: ExitStatus.fileProblem
        }
    }
}
