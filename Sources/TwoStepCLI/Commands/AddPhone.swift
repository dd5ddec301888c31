import ArgumentParser
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
            number through the channel plugin and must be typed back (from the terminal, \
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
        if label.isEmpty { throw ValidationError("--label must not be empty") }
    }

    func run() throws {
        let number = try PhoneNumber(parsing: number)
        let target = try target.resolve()
        let file = try target.readEnabled()
        if let existing = file.phones.first(where: { $0.number == number && $0.channel == channel }) {
            throw CLIError.usage("\(number.e164) is already set up for \(channel.displayName) as \(existing.id)")
        }
        if !target.isAdministrator { try CodeCheck.refuseDuringLockout(file) }
        let check = try CodeCheck.obtain(for: target, file: file, given: code)

        // Authorize and count the send in one locked update, before anything is sent.
        let now = Clock.now
        let policy = SendPolicy.standard
        try target.change(authorizing: check) { file in
            if let until = policy.nextAllowed(after: file.sends, at: now) {
                throw CLIError.refused("too many codes were sent recently; try again after \(Clock.local(until))")
            }
            policy.record(&file.sends, at: now)
        }
        try PhoneConfirmation.confirm(number, channel: channel, user: target.account.name, channels: channels.directory)

        let id = try target.access { store in
            try store.update { file -> String in
                let phone = Phone(id: file.nextID(prefix: Phone.idPrefix), number: number, channel: channel, label: label, created: Clock.now)
                file.factors.append(phone)
                return phone.id
            }
        }
        Console.out("Added phone \(id): \(channel.displayName) to \(number.masked) \"\(label)\".")
    }
}
