import TwoStepChannels
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Phones: the confirmation code sent to a new number, and adding it once
/// the code comes back (SPEC §5).
extension LocalAccountService {
    public func sendPhoneConfirmation(_ request: PhoneConfirmationRequest) throws(AccountError) -> SentResult {
        let (number, channel) = try Self.parse(request.phone)
        let now = Clock.now
        if try access({ try $0.exists() }) {
            // Checked as a login would, not spent (addPhone spends it), and
            // the send counted, in one locked update.
            let outcome: Result<Void, AccountError> = try access { store in
                try store.update { file in
                    guard file.isEnabled else { return .failure(off) }
                    if request.enrolment != true,
                       let existing = file.phones.first(where: { $0.number == number && $0.channel == channel }) {
                        return .failure(.usage("\(number.e164) is already set up for \(channel.displayName) as \(existing.id)"))
                    }
                    var checked = file
                    if case .failure(let refusal) = authorize(request.code, &checked, at: now) {
                        file = checked
                        return .failure(refusal)
                    }
                    // Root-side (below) when there is a counter; the record's
                    // own count only where the plugin runs as the user.
                    guard sendCounter == nil else { return .success(()) }
                    if let until = settings.sendPolicy.nextAllowed(after: file.sends, at: now) {
                        return .failure(Self.tooMany(until))
                    }
                    settings.sendPolicy.record(&file.sends, at: now)
                    return .success(())
                }
            }
            try outcome.get()
        } else if sendCounter == nil {
            // No record yet (enrolment with a phone), no root-side count: in memory.
            try confirmations.recordSend(uid: account.uid, policy: settings.sendPolicy, at: now)
        }
        if let sendCounter {
            // Counted where the user cannot reset it: re-enrolling, importing
            // or disabling replaces the record, not this count (SPEC §5).
            let until: Int64?
            do { until = try sendCounter.admit(account: name, number: number, policy: settings.sendPolicy, at: now) } catch {
                throw .failure("the send could not be counted (\(error)); no code was sent")
            }
            if let until { throw Self.tooMany(until) }
        }
        let made: (code: String, factor: PendingCode)
        do { made = try PendingCode.generate(id: "pending-new", phoneID: "new", now: now) } catch { throw AccountError(error) }
        do {
            try ChannelRunner(directory: settings.channels).send(kind: channel, user: name, destination: number, code: made.code)
        } catch {
            let hint = geteuid() != 0
                ? " (channels usually need root: an administrator can add the phone with 'twostep add phone --user \(name) …')"
                : ""
            throw .refused("no code could be sent to \(number.e164): \(error)\(hint); the phone was not added")
        }
        confirmations.put(
            PhoneConfirmations.Entry(code: made.factor, authorizingCode: request.code.map { SecretBytes(Array($0.utf8)) }, authorizedAt: now),
            uid: account.uid, phone: number, channel: channel)
        return SentResult(masked: number.masked)
    }

    /// Tells the root-side counter that `number` was confirmed through
    /// this (root-owned) path, so the module may send to it even from a
    /// store the user owns. Logged nowhere, never fatal: the phone is
    /// added either way, and an unrecorded confirmation only means the
    /// module will not send to it from a home-directory store.
    func noteConfirmed(_ number: PhoneNumber, at now: Int64) {
        guard let sendCounter else { return }
        try? sendCounter.confirm(account: name, number: number, at: now)
    }

    public func addPhone(_ request: AddPhoneRequest) throws(AccountError) -> AddedResult {
        let (number, channel) = try Self.parse(request.phone)
        try Self.checkLabel(request.label)
        let now = Clock.now
        let authorizedAt = try takeConfirmation(number, channel, answer: request.confirmation, code: request.code, at: now)
        let (id, authorization) = try change(authorizing: request.code, at: authorizedAt) { file in
            if let existing = file.phones.first(where: { $0.number == number && $0.channel == channel }) {
                throw AccountError.usage("\(number.e164) is already set up for \(channel.displayName) as \(existing.id)")
            }
            let phone = Phone(id: file.nextID(prefix: Phone.idPrefix), number: number, channel: channel, label: request.label, created: now)
            file.factors.append(phone)
            return phone.id
        }
        noteConfirmed(number, at: now)
        return AddedResult(id: id, authorization: authorization)
    }

    func takeConfirmation(_ number: PhoneNumber, _ channel: ChannelKind, answer: String, code: String?, at now: Int64) throws(AccountError) -> Int64 {
        guard let entry = confirmations.take(uid: account.uid, phone: number, channel: channel, at: now) else {
            throw .refused("no code was sent to \(number.e164) lately (or it expired); the phone was not added")
        }
        guard case .accepted = entry.code.check(answer, context: VerificationContext(now: now, window: 0)) else {
            throw .refused("that is not the code sent to \(number.e164) (or it expired); the phone was not added")
        }
        let same: Bool
        switch (entry.authorizingCode, code) {
        case (nil, nil): same = true
        case (let kept?, let given?): same = kept.withUnsafeBytes { k in Array(given.utf8).withUnsafeBytes { ConstantTime.equal(k, $0) } }
        default: same = false
        }
        guard same else { throw .refused("the authorizing code is not the one given when the code was sent; the phone was not added") }
        return entry.authorizedAt
    }
}
