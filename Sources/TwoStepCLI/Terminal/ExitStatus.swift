import ArgumentParser
import TwoStepAccounts
import TwoStepCore
import TwoStepStore

/// twostep's exit codes, and the one place that turns an error into a
/// message on standard error and an exit code.
enum ExitStatus {
    static let success: Int32 = 0
    /// Verification failed, or (for `status`) two-step verification is off.
    static let refused: Int32 = 1
    /// A usage error: a bad flag, a bad value, a missing answer.
    static let usage: Int32 = 2
    /// The factor file is unsafe, corrupt, missing or could not be written.
    static let fileProblem: Int32 = 3

    /// Prints what went wrong (`twostep: …`) and returns the exit code.
    /// Help and version requests print to standard output and exit 0.
    static func report(_ error: Error) -> Int32 {
        switch error {
        case let error as ExitCode:
            return error.rawValue
        case let error as CLIError:
            Console.error("twostep: \(error)")
            return error.exitCode
        case is StoreError, is TwoStepError:
            let error = AccountError(any: error)
            Console.error("twostep: \(error)")
            return error.exitCode
        default:
            let code = TwoStep.exitCode(for: error)
            if code == .success { TwoStep.exit(withError: error) }
            guard code == .validationFailure else {
                Console.error("twostep: \(error)")
                return fileProblem
            }
            var message = TwoStep.fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            Console.error("twostep: " + message)
            return usage
        }
    }
}
