import ArgumentParser
import TwoStepAccounts
import TwoStepCore

/// `twostep add phone`: a phone that receives codes by SMS or voice call.
struct AddPhone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phone",
        abstract: "Add a phone number that receives codes by SMS or voice call.",
        discussion: """
            The number is written with its region code (E.164): +966 50 123 4534, \
            +44 7700 900123. First a code from a method you already have authorizes the \
            change (--code; not needed for root with --user); then a code is sent to the \
            number through the channel plugin and must be typed back. The authorizing code is \
            spent only once the phone is added: when the number cannot be confirmed it stays \
            usable (from the terminal, \
            or a line of standard input when it is not one). A number that cannot \
            receive the code is not saved. Sends count towards the send limit (3 per 15 \
            minutes).

            At a login, an empty answer or '?' at the code prompt offers to send a code \
            to the phones you added.
            """)

    @OptionGroup var target: TargetOptions
    @OptionGroup var channels: ChannelDirectoryOptions

    @Argument(help: ArgumentHelp("The phone number with its region code, e.g. +966501234534.", valueName: "+number"))
    var number: String

    @Option(help: ArgumentHelp("How codes reach the phone: sms or voice.", valueName: "sms|voice"))
    var channel: ChannelKind = .sms

    @Option(help: ArgumentHelp("A name for this phone in twostep's listings.", valueName: "text"))
    var label: String = "phone"

    @Option(help: ArgumentHelp("A valid code from an existing authenticator or a backup code, to authorize the change (asked for when not given).", valueName: "code"))
    var code: String?

    func validate() throws {
        do { _ = try PhoneNumber(parsing: number) } catch { throw ValidationError("\(error)") }
        // Checked before a code is sent; the service checks it again (twostepd too).
        if let problem = PrintableText.problem(inLabel: label, what: "--label") { throw ValidationError(problem) }
    }

    func run() throws {
        let number = try PhoneNumber(parsing: number)
        let target = try target.resolve(channels: channels.directory)
        let authorizing = try CodeCheck.obtain(for: target, status: try target.enabledStatus(), given: code)
        // The code is checked and the send counted first; it is spent only
        // when the phone is added, after the confirmation comes back.
        let answer = try PhoneConfirmation.send(number, channel: channel, code: authorizing, via: target.service)
        let added = try target.service.addPhone(AddPhoneRequest(
            phone: PhoneConfirmation.request(number, channel), label: label, code: authorizing, confirmation: answer))
        CodeCheck.report(added.authorization)
        Console.out("Added phone \(added.id): \(channel.displayName) to \(number.masked) \"\(label)\".")
    }
}
