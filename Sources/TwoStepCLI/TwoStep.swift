import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `twostep`: turn two-step verification on and off, check codes, manage
/// backup codes, authenticators and trusted devices.
public struct TwoStep: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "twostep",
        abstract: "Set up and manage two-step verification for Linux logins.",
        discussion: """
            twostep keeps each user's authenticators, backup codes, trusted devices and \
            verification state in one factor file (by default ~/.twostep, mode 0600; see \
            twostep-factors(5)), which the pam_twostep module reads at login.

            Any command that changes the settings of a user who has two-step verification \
            on first asks for a valid code: a current code from an authenticator app or an \
            unused backup code (--code gives it on the command line). A wrong code counts \
            towards the lock-out just as at a login. Root acting on another user's file \
            with --user needs no code.

            Every question has a flag. When standard input is a terminal, questions are \
            asked on standard error; when it is not, answers are read from it one line per \
            question, so every command can be scripted.

            Exit status: 0 success; 1 a code was refused or a lock-out is running (and, \
            for status, two-step verification is off); 2 usage error; 3 the factor file \
            is missing, unsafe (permissions, owner, symlink), corrupt or could not be written, \
            or busy: another process held its lock for 5 s (a user can hold their own \
            file's lock; twostep then gives up, saying so, instead of waiting for ever).
            """,
        subcommands: [
            Enroll.self, Status.self, Verify.self, Codes.self, Add.self, Remove.self,
            Trust.self, Disable.self, Reset.self, Import.self,
            Setup.self,
            Report.self, Migrate.self,
        ])

    public init() {}

    /// Parses the command line, runs the command and exits with twostep's
    /// exit codes (errors are reported by `ExitStatus.report`).
    public static func runAndExit(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(ExitStatus.success)
        } catch {
            Glibc.exit(ExitStatus.report(error))
        }
    }
}
