import TwoStepAccounts
import TwoStepCore

/// Confirming a new phone (`add phone`, `enroll --phone`): the service sends
/// a code through the phone's channel plugin (twostepd runs it as root for
/// an administrator-managed store), and the user types it back, so a number
/// that cannot receive codes is never saved.
enum PhoneConfirmation {
    /// Has a code sent to `number` and reads the answer (from the terminal,
    /// or a line of standard input when it is not one). `code`: the code
    /// that authorises the change (checked now, spent only when the phone
    /// is added).
    static func send(_ number: PhoneNumber, channel: ChannelKind, code: String?, enrolment: Bool = false,
                     via service: any AccountService) throws -> String {
        Console.error("Sending a code by \(channel.displayName) to \(number.e164)…")
        let sent = try service.sendPhoneConfirmation(
            PhoneConfirmationRequest(phone: request(number, channel), code: code, enrolment: enrolment ? true : nil))
        return try Prompter.ask("Enter the code sent to \(sent.masked): ", flag: "standard input")
    }

    /// The phone as the service takes it.
    static func request(_ number: PhoneNumber, _ channel: ChannelKind) -> PhoneRequest {
        PhoneRequest(number: number.e164, channel: channel.rawValue)
    }
}
