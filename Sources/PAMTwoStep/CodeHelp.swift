import TwoStepChannels
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// "Didn't receive the code?" (SPEC §3 step 5): what an empty answer or
/// `?` at the code prompt does for a user who has phones. It lists the
/// other methods, numbered (a backup code, `SMS to +966 ••• ••34`, `voice
/// call to …`); the user picks one; a code is sent through that phone's
/// channel plugin, and the caller prompts again (the `Verifier` then
/// accepts the pending code like any other factor's).
///
/// Users without phones, and users who do not exist, get the one generic
/// line instead (`Login.askForCode`), so that `?` does not tell an unknown
/// user from an enrolled one who has no phone.
///
/// A send is first admitted root-side (SPEC §5): `counter` counts it per
/// account and per number where the user cannot reset it (root's
/// `send_count_dir=`, or twostepd's database in fleet mode). For a store
/// the user owns (the home directory), where they can write any `phone`
/// line, only a number confirmed through a root-owned path is sent to
/// (`confirmedOnly`). Then the send is reserved in the record — one
/// atomic update (the file's lock, with the user's file-system identity;
/// twostepd's compare-and-set): the record's own send limit is checked and
/// recorded, the new code's hash replaces any earlier pending code — and
/// then the plugin runs outside the lock, as root (it may need root-only
/// credentials) with a clean environment (`ChannelRunner`). When the
/// plugin fails or times out the user is told so plainly, the pending
/// code is withdrawn (it was never delivered), and the other methods stay
/// usable; a failed send never authenticates.
struct CodeHelp<Store: RecordStore> {
    let session: PAMSession
    let options: ModuleOptions
    let store: Store
    /// The root-side count of sends (SPEC §5).
    let counter: any SendCounter
    /// For a store the user owns: the tallies that say which numbers root
    /// confirmed; only those are sent to. Nil for a root-owned store.
    let confirmedOnly: SendCountDirectory?
    /// The account's own name (`pw_name`).
    let user: String
    let context: String
    let phones: [Phone]
    let hasBackupCodes: Bool

    /// The help for a user's file; nil when the user has no phone.
    init?(session: PAMSession, options: ModuleOptions, store: Store, counter: any SendCounter,
          confirmedOnly: SendCountDirectory?, user: String, context: String, factors: FactorFile) {
        guard factors.has(Phone.self) else { return nil }
        self.session = session
        self.options = options
        self.store = store
        self.counter = counter
        self.confirmedOnly = confirmedOnly
        self.user = user
        self.context = context
        phones = factors.phones
        hasBackupCodes = factors.has(BackupCode.self)
    }

    private enum Choice {
        case backupCode
        case phone(Phone)

        var text: String {
            switch self {
            case .backupCode: "a backup code"
            case .phone(let phone): phone.menuText
            }
        }
    }

    /// Shows the menu, asks for a choice (echo on), and sends a code when a
    /// phone is chosen. Returns when the user should be prompted again.
    func offer() {
        let choices = (hasBackupCodes ? [Choice.backupCode] : []) + phones.map { Choice.phone($0) }
        session.info("Didn't receive the code? Other ways to sign in:")
        for (index, choice) in choices.enumerated() { session.info("  \(index + 1). \(choice.text)") }
        let range = choices.count == 1 ? "1" : "1-\(choices.count)"
        guard let answer = session.ask("Your choice (\(range), or Enter to go back): ", echo: true) else { return }
        let trimmed = answer.filter { $0 != " " }
        if trimmed.isEmpty { return }
        guard let n = Int(trimmed), choices.indices.contains(n - 1) else {
            session.error("There is no choice '\(String(trimmed.prefix(10)))'.")
            return
        }
        switch choices[n - 1] {
        case .backupCode:
            session.info("Type one of your backup codes at the prompt.")
        case .phone(let phone):
            send(to: phone)
        }
    }

    private func send(to phone: Phone) {
        let what = phone.channel.displayName
        if let confirmedOnly {
            let confirmed: Bool
            do { confirmed = try confirmedOnly.isConfirmed(account: user, number: phone.number) } catch {
                session.log(LOG_ERR, "\(context): cannot read the send tallies: \(error); nothing sent to \(phone.id)")
                session.error("No code could be sent by \(what). Use another method.")
                return
            }
            guard confirmed else {
                session.log(LOG_NOTICE, "\(context): \(phone.id) is in a store the user owns and was never confirmed through root (twostep add phone as root or through twostepd); nothing sent")
                session.error("No code can be sent to this phone: it was not confirmed by an administrator. Use another method.")
                return
            }
        }
        let now = Int64(time(nil))
        let admitted: Int64?
        do {
            admitted = try counter.admit(account: user, number: phone.number, policy: options.sendPolicy, at: now)
        } catch {
            session.log(LOG_ERR, "\(context): cannot count a send to \(phone.id): \(error); nothing sent")
            session.error("No code could be sent by \(what). Use another method.")
            return
        }
        if let until = admitted {
            limited(until: until, phone: phone)
            return
        }
        let reservation: CodeDelivery.Reservation
        do {
            reservation = try store.update { (current: inout FactorFile) throws(TwoStepError) -> CodeDelivery.Reservation in
                try CodeDelivery.reserve(phoneID: phone.id, in: &current, policy: options.sendPolicy, at: Int64(time(nil)))
            }
        } catch {
            session.log(LOG_ERR, "\(context): cannot record a code for \(phone.id): \(error)")
            session.error("No code could be sent by \(what). Use another method.")
            return
        }
        switch reservation {
        case .unknownPhone:
            session.log(LOG_NOTICE, "\(context): \(phone.id) was removed meanwhile; nothing sent")
            session.error("No code could be sent by \(what). Use another method.")
        case .limited(let until):
            limited(until: until, phone: phone)
        case .send(let code, let phone, let pendingID):
            do throws(ChannelError) {
                try ChannelRunner(directory: options.channels)
                    .send(kind: phone.channel, user: user, destination: phone.number, code: code)
            } catch {
                session.log(LOG_ERR, "\(context): code not sent to \(phone.id): \(error)")
                withdraw(pendingID)
                session.error(error.isTimeout
                    ? "The \(what) service did not answer in time: no code was sent. Try again later, or use another method."
                    : "No code could be sent by \(what). Try again later, or use another method.")
                return
            }
            session.log(LOG_NOTICE, "\(context): code sent by \(phone.channel.rawValue) to \(phone.id)")
            let minutes = PendingCode.lifetime / 60
            session.info("A code was sent by \(what) to \(phone.number.masked). It is valid for \(minutes) minutes.")
        }
    }

    /// The send limit is reached (root's count or the record's).
    private func limited(until: Int64, phone: Phone) {
        let now = Int64(time(nil))
        let minutes = max(1, UnixTime.adding(UnixTime.subtracting(until, now), 59) / 60)
        session.log(LOG_NOTICE, "\(context): send limit reached (\(options.sendPolicy.limit) per \(options.sendPolicy.window) s); nothing sent to \(phone.id) until \(until)")
        session.error("Too many codes were sent recently: no code was sent. Try again in \(minutes) minute\(minutes == 1 ? "" : "s"), or use another method.")
    }

    /// Removes the pending code of a failed send (logged when that fails:
    /// the code was never delivered, so it cannot be typed anyway).
    private func withdraw(_ pendingID: String) {
        do {
            try store.update { CodeDelivery.cancel(pendingID: pendingID, in: &$0) }
        } catch {
            session.log(LOG_ERR, "\(context): could not withdraw the undelivered code: \(error)")
        }
    }
}
