/// An authenticator app (RFC 6238 TOTP) holding a shared secret.
///
/// File line: `totp id= algorithm= digits= period= secret= label= created= [last-step=]`.
/// `last-step` is the time step of the last accepted code: a code of that
/// step or any earlier one is refused as a replay.
public struct TOTPAuthenticator: Factor, Equatable {
    public static let keyword = "totp"
    public static let idPrefix = "totp"

    public var id: String
    public var secret: SecretBytes
    public var parameters: OTPParameters
    public var label: String
    public var created: Int64
    /// The last time step accepted, nil before the first use.
    public var lastStep: UInt64?

    public init(id: String, secret: SecretBytes, parameters: OTPParameters, label: String, created: Int64, lastStep: UInt64? = nil) {
        self.id = id
        self.secret = secret
        self.parameters = parameters
        self.label = label
        self.created = created
        self.lastStep = lastStep
    }

    /// The field keys, packed once.
    private enum Key {
        static let id: FieldKey = "id"
        static let algorithm: FieldKey = "algorithm"
        static let digits: FieldKey = "digits"
        static let period: FieldKey = "period"
        static let secret: FieldKey = "secret"
        static let label: FieldKey = "label"
        static let created: FieldKey = "created"
        static let lastStep: FieldKey = "last-step"
    }

    public init(from reader: inout FactorLineReader) throws(TwoStepError) {
        id = try reader.required(Key.id)
        let algorithmName = try reader.required(Key.algorithm)
        guard let algorithm = OTPAlgorithm(rawValue: algorithmName) else {
            throw reader.error("unknown algorithm '\(algorithmName)'")
        }
        let digits = try reader.integer(Key.digits, in: 6...8)
        let period = try reader.integer(Key.period, in: 1...300)
        parameters = try OTPParameters(algorithm: algorithm, digits: Int(digits), period: Int(period))
        let secretText = try reader.required(Key.secret)
        var bytes: [UInt8]
        do { bytes = try Base32.decode(secretText) } catch { throw reader.error("secret: \(error)") }
        defer { cleanse(&bytes) }
        guard bytes.count >= 10 else { throw reader.error("secret is shorter than 10 bytes") }
        secret = SecretBytes(bytes)
        label = try reader.required(Key.label)
        created = try reader.time(Key.created)
        // A step is a time divided by the period: within the times a file may hold.
        lastStep = try reader.optionalInteger(Key.lastStep, in: UnixTime.range).map { UInt64($0) }
        try reader.finish()
    }

    /// This authenticator with a `lastStep` beyond the last step of the
    /// window at `now` (a clock stepped back since it was recorded) lowered
    /// to that step, or nil when it is not beyond: a future step would
    /// otherwise make every code a replay, and the lowered one lets codes
    /// in again once the steps move past the window.
    public func cappingLastStep(at now: Int64, window: Int) -> TOTPAuthenticator? {
        guard let last = lastStep else { return nil }
        let (end, overflow) = OTP.timeStep(at: now, period: parameters.period).addingReportingOverflow(UInt64(max(window, 0)))
        guard !overflow, last > end else { return nil }
        var capped = self
        capped.lastStep = end
        return capped
    }

    public func write(to line: inout FactorLine) {
        line.append("id", id)
        line.append("algorithm", parameters.algorithm.rawValue)
        line.append("digits", parameters.digits)
        line.append("period", parameters.period)
        secret.withUnsafeBytes { line.append("secret", base32: $0) }
        line.append("label", label)
        line.append("created", created)
        if let lastStep { line.append("last-step", lastStep) }
    }

    public var summary: FactorSummary {
        FactorSummary(
            kind: .authenticator, id: id,
            description: "authenticator app \"\(label)\" (\(parameters.algorithm.rawValue), \(parameters.digits) digits, \(parameters.period) s)",
            created: created)
    }

    /// Accepts a code from any step within `window` of now that is later than
    /// `lastStep` (the `Verifier` first lowers a `lastStep` beyond the window to the window's last step); for an answer of `digits` digits every step in the window
    /// is computed and compared whatever the answer (as numbers: one integer
    /// compare each, no early exit). Any other answer is no match, unchecked
    /// (its shape is all the time tells).
    public func check(_ answer: String, context: VerificationContext) -> FactorCheck {
        guard var code = Self.value(ofCode: answer, digits: parameters.digits) else { return .noMatch }
        defer { code = 0 }
        let now = OTP.timeStep(at: context.now, period: parameters.period)
        var steps = [UInt64]()
        steps.reserveCapacity(2 * context.window + 1)
        for offset in -context.window...context.window {
            let (step, overflow) = offset < 0
                ? now.subtractingReportingOverflow(UInt64(-offset))
                : now.addingReportingOverflow(UInt64(offset))
            if !overflow { steps.append(step) }
        }
        var expected = OTP.values(secret: secret, counters: steps, algorithm: parameters.algorithm, digits: parameters.digits)
        defer { for i in expected.indices { expected[i] = 0 } }
        var accepted: UInt64?
        var replayed = false
        for (step, value) in zip(steps, expected) where value == code {
            if let last = lastStep, step <= last {
                replayed = true
            } else {
                accepted = step
            }
        }
        if let accepted {
            var updated = self
            updated.lastStep = accepted
            return .accepted(replacement: updated)
        }
        return replayed ? .replayed : .noMatch
    }

    /// The number an answer of exactly `digits` ASCII digits (spaces
    /// ignored) spells; nil for any other answer.
    static func value(ofCode answer: String, digits: Int) -> UInt32? {
        var value: UInt32 = 0
        var count = 0
        for b in answer.utf8 where b != UInt8(ascii: " ") {
            let d = b &- UInt8(ascii: "0")
            guard d <= 9, count < digits else { return nil }
            value = value &* 10 &+ UInt32(d)
            count += 1
        }
        return count == digits ? value : nil
    }
}
