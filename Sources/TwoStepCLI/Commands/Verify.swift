import ArgumentParser
import TwoStepCore

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
        let file = try target.readEnabled()
        try CodeCheck.refuseDuringLockout(file)
        let answer = try code ?? Prompter.ask("Verification code: ", flag: "--code")
        let decision = try target.access { store in
            try store.update { file in
                let result = CodeCheck.verifier.verify(answer, in: file, at: Clock.now)
                file = result.file
                return result.decision
            }
        }
        guard case .accepted(let acceptance) = decision else {
            throw CLIError.refused(CodeCheck.message(for: decision))
        }
        Console.out("Code accepted.")
        if let left = acceptance.backupCodesLeft { Console.out(CodeCheck.backupCodesLeft(left)) }
    }
}
