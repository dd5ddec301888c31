/// The file side of sending a code to a phone, pure: check the send limit,
/// make the code, keep its hash as the one pending code, record the send.
/// The caller runs this inside a locked update, then runs the channel
/// outside the lock, and calls `cancel` when the channel failed.
public enum CodeDelivery {
    /// What `reserve` decided.
    public enum Reservation: Sendable, Equatable {
        /// Send `code` to `phone`; `pendingID` names its line for `cancel`.
        case send(code: String, phone: Phone, pendingID: String)
        /// The send limit is reached: the next send may go at `until`.
        case limited(until: Int64)
        /// No phone with that id (removed meanwhile).
        case unknownPhone
    }

    /// Makes a code for the phone `phoneID` unless the limit is reached. A
    /// new code supersedes every earlier pending one, and the send counts
    /// towards the limit whether or not the channel then delivers it.
    public static func reserve(
        phoneID: String, in file: inout FactorFile, policy: SendPolicy, at now: Int64
    ) throws(TwoStepError) -> Reservation {
        guard let phone = file.phones.first(where: { $0.id == phoneID }) else { return .unknownPhone }
        if let until = policy.nextAllowed(after: file.sends, at: now) { return .limited(until: until) }
        file.factors.removeAll { $0 is PendingCode }
        let made = try PendingCode.generate(id: file.nextID(prefix: PendingCode.idPrefix), phoneID: phone.id, now: now)
        file.factors.append(made.factor)
        policy.record(&file.sends, at: now)
        return .send(code: made.code, phone: phone, pendingID: made.factor.id)
    }

    /// Drops the pending code `pendingID` (its channel failed: the code was
    /// never delivered, so it must not work). The send still counts.
    public static func cancel(pendingID: String, in file: inout FactorFile) {
        file.factors.removeAll { $0 is PendingCode && $0.id == pendingID }
    }
}
