/// A phone number that receives codes by SMS or voice call through a
/// channel plugin (SPEC §5). It is a method, but has no secret of its own:
/// what it accepts is a `PendingCode` sent to it.
///
/// File line: `phone id= number= channel= label= created=`.
public struct Phone: Factor, Equatable {
    public static let keyword = "phone"
    public static let idPrefix = "phone"

    public var id: String
    public var number: PhoneNumber
    public var channel: ChannelKind
    public var label: String
    public var created: Int64

    public init(id: String, number: PhoneNumber, channel: ChannelKind, label: String, created: Int64) {
        self.id = id
        self.number = number
        self.channel = channel
        self.label = label
        self.created = created
    }

    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        id = try reader.required("id")
        let text = try reader.required("number")
        do { number = try PhoneNumber(parsing: text) } catch { throw reader.error("number: \(error)") }
        guard number.e164 == text else { throw reader.error("number must be written +DIGITS") }
        let channelName = try reader.required("channel")
        guard let channel = ChannelKind(rawValue: channelName) else {
            throw reader.error("channel must be sms or voice (got '\(channelName.prefix(20))')")
        }
        self.channel = channel
        label = try reader.required("label")
        created = try reader.time("created")
        try reader.finish()
    }

    public func write(to line: inout FactorLine) {
        line.append("id", id)
        line.append("number", number.e164)
        line.append("channel", channel.rawValue)
        line.append("label", label)
        line.append("created", created)
    }

    /// `SMS to +966 ••• ••34`: the method as the login menu shows it.
    public var menuText: String {
        "\(channel == .sms ? "SMS" : "voice call") to \(number.masked)"
    }

    public var summary: FactorSummary {
        FactorSummary(kind: .phone, id: id, description: "\(menuText) \"\(label)\"", created: created)
    }

    /// A phone accepts nothing itself: the code sent to it is a separate
    /// `PendingCode` factor.
    public func check(_ answer: String, context: VerificationContext) -> FactorCheck { .noMatch }
}

extension FactorFile {
    /// The phones, in file order.
    public var phones: [Phone] { factors(of: Phone.self) }

    /// Codes sent and not yet used (at most one: a new send supersedes it).
    public var pendingCodes: [PendingCode] { factors(of: PendingCode.self) }

    /// Removes the factor `id` and, for a phone, any code sent to it.
    public mutating func removeFactor(id: String) {
        factors.removeAll { $0.id == id || ($0 as? PendingCode)?.phoneID == id }
    }
}
