import Synchronization
import TwoStepCore

/// Codes sent to phones that are being added, between
/// `sendPhoneConfirmation` and `addPhone` (or `enroll`): kept in memory
/// only (twostepd's, or the CLI process's), never in the record, so no
/// login can accept one. Each entry is bound to the user, the number, the
/// channel and the authorising code given with it, lives
/// `PendingCode.lifetime` seconds and is taken out by the first answer,
/// right or wrong (one guess per code sent).
///
/// It also limits how often codes are sent for one user who has no record
/// yet (`enroll --phone`), whose sends cannot be counted in a file.
public final class PhoneConfirmations: Sendable {
    /// One code sent, waiting for its answer.
    public struct Entry: Sendable {
        /// The code's salted hash (`PendingCode`): the code itself is not kept.
        public let code: PendingCode
        /// The authorising code given when it was sent (compared in
        /// constant time; zeroed when the entry goes).
        public let authorizingCode: SecretBytes?
        /// When the authorising code was checked: `addPhone` checks it again
        /// as of that time, so a slow answer does not outlive a TOTP window,
        /// while a code spent meanwhile (by a login) is refused.
        public let authorizedAt: Int64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var sends: [UInt32: SendLog] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    private static func key(uid: UInt32, phone: PhoneNumber, channel: ChannelKind) -> String {
        "\(uid) \(phone.e164) \(channel.rawValue)"
    }

    /// Counts a send for `uid` in memory; throws when `policy` says too many were sent.
    public func recordSend(uid: UInt32, policy: SendPolicy, at now: Int64) throws(AccountError) {
        let next: Int64? = state.withLock { state in
            var log = state.sends[uid] ?? SendLog()
            if let until = policy.nextAllowed(after: log, at: now) { return until }
            policy.record(&log, at: now)
            state.sends[uid] = log
            return nil
        }
        if let next { throw .refused("too many codes were sent recently; try again after \(Clock.local(next))") }
    }

    /// Keeps the code sent to `phone` (replacing an earlier one).
    public func put(_ entry: Entry, uid: UInt32, phone: PhoneNumber, channel: ChannelKind) {
        state.withLock { state in
            let now = entry.code.created
            state.entries = state.entries.filter { $0.value.code.expires > now }
            state.entries[Self.key(uid: uid, phone: phone, channel: channel)] = entry
        }
    }

    /// Whether anything here still matters at `now`: a code that has not
    /// expired, or a send inside the last `window` seconds (the send
    /// limit's window). twostepd does not exit for idleness while it does.
    public func holdsState(at now: Int64, window: Int64) -> Bool {
        state.withLock { state in
            state.entries.values.contains { $0.code.expires > now }
                || state.sends.values.contains { log in log.times.contains { $0 > now - window } }
        }
    }

    /// Takes out the entry for `phone`: nil when none was sent or it expired.
    public func take(uid: UInt32, phone: PhoneNumber, channel: ChannelKind, at now: Int64) -> Entry? {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: Self.key(uid: uid, phone: phone, channel: channel)),
                  entry.code.expires > now else { return nil }
            return entry
        }
    }
}
