import ArgumentParser
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `twostep reset --user NAME`: the administrator's way out for a user
/// who lost their phone and backup codes.
struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Root only: remove a user's factor file (authenticators, backup codes, trusted devices, state).",
        discussion: """
            For a user who lost their authenticator and backup codes. Nothing secret is \
            kept. The user then sets two-step verification up again with 'twostep enroll'. \
            Works on a corrupt file too; an unsafe one (wrong owner or permissions, a \
            symlink) is refused and must be looked at by hand.
            """)

    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("reset is for root only; to turn your own two-step verification off use 'twostep disable'") }
        guard target.user != nil else { throw ValidationError("reset needs --user NAME") }
    }

    func run() throws {
        let target = try target.resolve()
        let path = target.path
        _ = try target.service.reset()
        let name = target.account.name
        Console.out("Removed \(path): \(name)'s authenticators, backup codes, trusted devices and state are gone.")
        Console.out("Tell \(name) to run 'twostep enroll' to set up two-step verification again. Until then,")
        Console.out("logins that require pam_twostep are refused for \(name) unless the module has nullok.")
    }
}
