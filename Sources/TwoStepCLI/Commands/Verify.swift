import ArgumentParser
import TwoStepAccounts

/// `twostep verify`: check a code as a login would.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a code as a login would, without logging in.",
        discussion: """
            An accepted code is spent: an authenticator's code cannot be used again (nor \
            any earlier one), a backup code is gone. A wrong code counts towards the \
            lock-out. Exit status 0 when the code is accepted, 1 when it is refused or a \
            lock-out is running.
            """)

    @OptionGroup var target: TargetOptions

    @Option(help: ArgumentHelp("The code to check (asked for when not given).", valueName: "code"))
    var code: String?

    func run() throws {
        let target = try target.resolve()
        try CodeCheck.refuseDuringLockout(try target.enabledStatus())
        let answer = try code ?? Prompter.ask("Verification code: ", flag: "--code")
        let accepted = try target.service.verify(VerifyRequest(code: answer))
        Console.out("Code accepted.")
        if let left = accepted.backupCodesLeft { Console.out(CodeCheck.backupCodesLeft(left)) }
    }
}
