import TwoStepChannels
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Confirming a new phone (`add phone`, `enroll --phone`): a code is sent
/// through the phone's channel plugin and must be typed back, so a number
/// that cannot receive codes is never saved.
///
/// The plugin runs with the identity of whoever runs `twostep` (the PAM
/// module runs it as root). Channels that need root-only credentials —
/// the shipped `spool` and the HTTP gateway template do — therefore work
/// when root adds the phone (`--user NAME`).
enum PhoneConfirmation {
    /// Sends a fresh code and checks the answer (from the terminal, or a
    /// line of standard input when it is not one). Throws `refused` when
    /// the code could not be sent or the answer is not the code.
    static func confirm(_ number: PhoneNumber, channel: ChannelKind, user: String, channels: String) throws {
        let made = try PendingCode.generate(id: "pending-new", phoneID: "new", now: Clock.now)
        Console.error("Sending a code by \(channel.displayName) to \(number.e164)…")
        do {
            try ChannelRunner(directory: channels).send(kind: channel, user: user, destination: number, code: made.code)
        } catch {
            let hint = geteuid() != 0
                ? " (channels usually need root: an administrator can add the phone with 'twostep add phone --user \(user) …')"
                : ""
            throw CLIError.refused("no code could be sent to \(number.e164): \(error)\(hint); the phone was not added")
        }
        let answer = try Prompter.ask("Enter the code sent to \(number.masked): ", flag: "standard input")
        guard case .accepted = made.factor.check(answer, context: VerificationContext(now: Clock.now, window: 0)) else {
            throw CLIError.refused("that is not the code sent to \(number.e164) (or it expired); the phone was not added")
        }
    }
}
