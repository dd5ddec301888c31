import CPAMShim
import TwoStepCore
import TwoStepStore
import TwoStepWire
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of one `pam_sm_authenticate`.
enum Outcome: Equatable {
    case success
    /// Not applicable (nullok without a file, exempt host): PAM_IGNORE, never PAM_SUCCESS.
    case ignore
    case denied
    case configurationError

    var pamCode: Int32 {
        switch self {
        case .success: PAM_SUCCESS
        case .ignore: PAM_IGNORE
        case .denied: PAM_AUTH_ERR
        case .configurationError: PAM_SERVICE_ERR
        }
    }
}

/// The SPEC §3 flow for one login: find the file, honour a trusted device,
/// respect a lock-out, ask for a code, verify it (TwoStepCore's Verifier,
/// under the store's lock), and offer to trust the device. Every path that
/// is not an explicit success or "not applicable" denies.
struct Login {
    let session: PAMSession
    let options: ModuleOptions
    /// `database_timeout=` (twostep.conf): with `store=twostepd`, twostepd
    /// answers within it; the module waits one second more, then denies.
    var databaseTimeout = SystemConfiguration().databaseTimeout
    let now: Int64

    /// How long libpam waits before reporting a failure (randomised by libpam),
    /// so wrong answers cost the same whatever the account.
    static let failDelayMicroseconds: UInt32 = 2_000_000

    private var verifier: Verifier { Verifier(policy: options.policy) }
    private var trust: TrustPolicy { TrustPolicy(trustDays: options.trustDays, trustBy: options.trustBy) }

    func authenticate() -> Outcome {
        guard let typed = session.user() else {
            session.log(LOG_ERR, "no user name; denying")
            return .denied
        }
        // SSH_AUTH_INFO_0 is read here, in pam_sm_authenticate only (a
        // user's ~/.pam_environment can change the PAM environment of the
        // session stack), and parsed once, strictly: the trusted device's
        // key and the security key check (SPEC §11) both use this parse.
        let authInfo = SecurityKeyLogin.read(session.environment("SSH_AUTH_INFO_0"))
        let device = Device(
            service: session.item(PAM_SERVICE) ?? "unknown",
            remoteHost: session.item(PAM_RHOST),
            authInfo: try? authInfo.get())
        var context = "user \(typed) service \(device.service) from \(device.remoteHost ?? "local")"

        if let host = device.remoteHost, let network = options.exemptRemoteHosts.first(where: { $0.contains(host) }) {
            session.log(LOG_NOTICE, "\(context): exempt (\(network)), second step skipped")
            return .ignore
        }
        let found: UserAccount?
        do {
            found = try session.account(named: typed)
        } catch {
            // Not "no such user": with nullok that would let everyone through
            // while the user database is down.
            session.log(LOG_ERR, "\(context): \(error); denying")
            return deny(Messages.unavailable)
        }
        guard let account = found else {
            // With nullok an unknown user is answered like a user without a
            // factor file, so the reply does not say which accounts exist.
            if options.nullok {
                session.log(LOG_NOTICE, "\(context): unknown user, let through like an unenrolled one (nullok)")
                return .ignore
            }
            session.log(LOG_NOTICE, "\(context): unknown user")
            return refuseUnknown()
        }
        // Everything is keyed by the account's own name (SPEC §7): a name
        // service that accepts other spellings (sssd with AD is
        // case-insensitive, `user@domain`) must not make an enrolled user
        // look unenrolled (with nullok: let through on the password alone).
        let user = account.name
        if user != typed {
            context = "user \(typed) (account \(user)) service \(device.service) from \(device.remoteHost ?? "local")"
            session.log(LOG_NOTICE, "\(context): the name given differs from the account's name; using the account's")
        }
        // The login waits for the lock as long as it takes (`LockWait.untilAcquired`):
        // only this user (or root) can hold it, and it is this user's login that waits.
        let location: RecordLocation
        do {
            location = try RecordLocation(of: account, in: options.store, lockWait: .untilAcquired)
        } catch {
            // A home store in root's directory (home not mounted?): a missing
            // file there proves nothing (no nullok), and root must not use one found there.
            session.log(LOG_ERR, "\(context): \(error); denying")
            return deny(Messages.unavailable)
        }
        switch location {
        case .twostepd:
            // Fleet mode (SPEC §9): twostepd's Login socket, every change a
            // compare-and-set that its database has committed.
            let backend = DaemonRecordBackend(socketDirectory: options.socketDirectory, timeout: Double(databaseTimeout) + 1)
            let store = VersionedRecordStore(backend: backend, user: user)
            session.debugLog("\(context): record from twostepd (\(backend.socket.path))")
            return verify(store: store, counter: backend, confirmedOnly: nil, account: account, device: device, authInfo: authInfo,
                          context: context)
        case .file(let file):
            session.debugLog("\(context): factor file \(file.path), \(file.actsAsUser ? "as the user" : "as root (root-owned store)")")
            // Sends are counted root-side (SPEC §5); to a store the user owns
            // only numbers root confirmed are sent to.
            let tallies = SendCountDirectory(path: options.sendCountDirectory)
            return verify(store: file, counter: tallies, confirmedOnly: file.actsAsUser ? tallies : nil,
                          account: account, device: device, authInfo: authInfo, context: context)
        }
    }

    /// The flow once the record's store is known: the same for a factor
    /// file and for twostepd's records.
    private func verify<Store: RecordStore>(
        store: Store, counter: any SendCounter, confirmedOnly: SendCountDirectory?, account: UserAccount, device: Device,
        authInfo: SecurityKeyLogin.AuthInfo, context: String
    ) -> Outcome {
        let user = account.name
        let steps = SessionSteps(session: session, options: options, service: device.service)
        let snapshot: Store.Snapshot
        do {
            snapshot = try store.readSnapshot()
        } catch StoreError.notEnrolled {
            if options.nullok {
                session.log(LOG_NOTICE, "\(context): not enrolled, let through (nullok)")
                return .ignore
            }
            session.log(LOG_NOTICE, "\(context): not enrolled; denying (no nullok)")
            return deny(Messages.notEnrolled)
        } catch {
            session.log(LOG_ERR, "\(context): cannot use the record: \(error); denying")
            return deny(Messages.unavailable)
        }
        if snapshot.offline {
            session.log(LOG_NOTICE, "\(context): twostepd's database is unreachable: deciding from its cached copy (authenticator codes and security keys only)")
        }
        let factors = snapshot.file
        guard factors.isEnabled else {
            session.log(LOG_ERR, "\(context): the factor file has no factors left; denying")
            return deny(Messages.unavailable)
        }
        // SPEC §12: a caller whose login session passed the second step
        // lately (`recent=`), unless the record changed since.
        if let outcome = steps.stepUp(account: account, file: factors, at: now, context: context) {
            return outcome
        }
        if options.securityKeys.isOn,
           let outcome = securityKey(store: store, snapshot: snapshot, authInfo: authInfo, context: context) {
            if outcome == .success { steps.remember(.securityKey, account: account, at: now, context: context) }
            return outcome
        }
        if let record = trust.trustedRecord(in: factors, for: device, at: now) {
            session.log(LOG_NOTICE, "\(context): trusted device (\(record.id)), no code asked")
            return .success
        }
        if let until = verifier.lockout(in: factors, at: now) {
            if until != factors.failures.lockedUntil {
                // Stored as ending beyond the policy's length (a clock
                // stepped back): store it capped, so that it runs out.
                do {
                    _ = try store.update(from: snapshot, durability: { (_: Bool) in .stateOnly }) { (current: inout FactorFile) -> Bool in
                        verifier.capLockout(in: &current, at: now)
                    }
                } catch {
                    session.log(LOG_ERR, "\(context): cannot shorten the lock-out: \(error)")
                }
            }
            session.log(LOG_NOTICE, "\(context): locked out until \(until); no code checked")
            return deny(Messages.lockedOut(until: until, now: now))
        }
        let help = CodeHelp(session: session, options: options, store: store, counter: counter, confirmedOnly: confirmedOnly,
                            user: user, context: context, factors: factors)
        guard let answer = askForCode(context: context, help: help) else { return deny(Messages.noAnswer) }

        // A recorded TOTP step or failure count is written without fsync,
        // in place when it can be (FactorStore.Durability.stateOnly); a spent
        // backup code is always durable. Usually it goes through the
        // descriptor opened, as the user, for the read before the prompt
        // (updateInPlace); otherwise the full update opens the file again
        // with the user's identity. The file read before the prompt is
        // parsed again only if it changed meanwhile.
        let durability = { (r: Verifier.Result) -> FactorStore.Durability in r.changesStateOnly ? .stateOnly : .durable }
        let record = { (current: inout FactorFile) -> Verifier.Result in
            let r = verifier.verify(answer, in: current, at: Int64(time(nil)))
            current = r.file
            return r
        }
        let result: Verifier.Result
        do {
            result = try store.update(from: snapshot, durability: durability, record)
        } catch {
            session.log(LOG_ERR, "\(context): cannot record the verification: \(error); denying")
            return deny(Messages.unavailable)
        }
        switch result.decision {
        case .lockedOut(let until):
            session.log(LOG_NOTICE, "\(context): locked out until \(until); no code checked")
            return deny(Messages.lockedOut(until: until, now: now))
        case .refused(let refusal):
            let what = refusal.replay ? "replayed code" : "wrong code"
            let lock = refusal.lockedUntil.map { ", locked out until \($0)" } ?? ""
            session.log(LOG_NOTICE, "\(context): \(what) (\(refusal.failures) in a row\(lock))")
            if let until = refusal.lockedUntil { return deny(Messages.wrongCode + " " + Messages.lockedOut(until: until, now: now)) }
            return deny(Messages.wrongCode)
        case .accepted(let acceptance):
            session.log(LOG_NOTICE, "\(context): code accepted (\(acceptance.kind.rawValue) \(acceptance.factorID))")
            if let left = acceptance.backupCodesLeft { session.info(Messages.backupCodesLeft(left)) }
            if let factor = SessionFactor(kind: acceptance.kind) {
                steps.remember(factor, account: account, at: Int64(time(nil)), context: context)
            }
            offerTrust(device: device, store: store, context: context)
            return .success
        }
    }

    /// SPEC §11, where a trusted device is checked and before the lock-out
    /// (which stops code guessing, not hardware): the login's SSH key is
    /// one the user enrolled. Then its `last-used` is stored as a
    /// verification state change is (`.stateOnly`, in place when it can
    /// be), the decision made again on the record being changed, and the
    /// login succeeds with no prompt; nil (no match) lets the usual flow
    /// go on. From twostepd's cached copy (`offline=cached`) the key
    /// counts and its last use is not written: twostepd journals codes only.
    private func securityKey<Store: RecordStore>(
        store: Store, snapshot: Store.Snapshot, authInfo: SecurityKeyLogin.AuthInfo, context: String
    ) -> Outcome? {
        let keys = SecurityKeyLogin(policy: options.securityKeys)
        let keyID: String
        switch keys.decide(file: snapshot.file, authInfo: authInfo, at: now) {
        case .notApplicable(let reason):
            session.debugLog("\(context): no security key login: \(reason)")
            return nil
        case .accepted(let id, _) where snapshot.offline:
            keyID = id
            session.debugLog("\(context): cached copy: the last use of \(id) is not recorded")
        case .accepted:
            let decided: SecurityKeyLogin.Outcome
            do {
                decided = try store.update(from: snapshot, durability: { (_: SecurityKeyLogin.Outcome) in .stateOnly }) {
                    (current: inout FactorFile) -> SecurityKeyLogin.Outcome in
                    let outcome = keys.decide(file: current, authInfo: authInfo, at: now)
                    if case .accepted(_, let file) = outcome { current = file }
                    return outcome
                }
            } catch {
                session.log(LOG_ERR, "\(context): cannot record the security key's use: \(error); denying")
                return deny(Messages.unavailable)
            }
            // The key was removed in the meantime: the usual flow.
            guard case .accepted(let id, _) = decided else { return nil }
            keyID = id
        }
        session.log(LOG_NOTICE, "\(context): security key \(keyID), no code asked")
        return .success
    }

    /// Prompts for the code; an empty answer or `?` shows the other ways
    /// in (`help`: the menu that sends a code to a phone; without phones,
    /// one generic line) and asks again. With `forward_pass` the answer is
    /// `PASSWORD CODE` and the password goes on to the next module as PAM_AUTHTOK.
    private func askForCode<Store>(context: String, help: CodeHelp<Store>?) -> String? {
        let prompt = options.forwardPass && options.prompt == ModuleOptions().prompt ? "Password and verification code: " : options.prompt
        for _ in 0..<3 {
            guard var answer = session.ask(prompt, echo: false) else {
                session.log(LOG_NOTICE, "\(context): the client gave no answer")
                return nil
            }
            if options.forwardPass {
                guard let space = answer.lastIndex(of: " ") else {
                    session.log(LOG_NOTICE, "\(context): forward_pass answer without a code")
                    return ""
                }
                let password = String(answer[..<space])
                answer = String(answer[answer.index(after: space)...])
                guard session.setAuthToken(password) else {
                    session.log(LOG_ERR, "\(context): could not set PAM_AUTHTOK")
                    return nil
                }
            }
            let rest = answer.utf8.lazy.filter { $0 != UInt8(ascii: " ") }
            if rest.isEmpty || rest.elementsEqual([UInt8(ascii: "?")]) {
                if let help {
                    help.offer()
                } else {
                    session.info("Didn't receive the code? You can type one of your backup codes instead.")
                }
                continue
            }
            return answer
        }
        return nil
    }

    /// After a correct code: "Don't ask for codes on this device for N days?"
    /// A client that cannot answer simply does not trust the device. A
    /// failure to store the record is logged; the login stands.
    private func offerTrust(device: Device, store: some RecordStore, context: String) {
        guard trust.canTrust(device) else { return }
        guard let answer = session.ask(Messages.trustQuestion(days: options.trustDays), echo: true) else { return }
        guard ["y", "yes"].contains(answer.lowercased().filter { $0 != " " }) else { return }
        do {
            try store.update { $0 = trust.trust(device, in: $0, at: now) }
            session.log(LOG_NOTICE, "\(context): device trusted for \(options.trustDays) days (\(trust.mode(for: device).rawValue))")
        } catch {
            session.log(LOG_ERR, "\(context): could not record the trusted device: \(error)")
            session.error("This device could not be remembered; you will be asked for a code next time.")
        }
    }

    /// An unknown user gets the same prompt, the same work and the same
    /// answer as an enrolled user who types a wrong code.
    private func refuseUnknown() -> Outcome {
        guard let answer = askForCode(context: "unknown user", help: CodeHelp<FactorStore>?.none) else { return deny(Messages.noAnswer) }
        let decoy = Decoy.file(now: now)
        _ = verifier.verify(answer, in: decoy, at: now)
        return deny(Messages.wrongCode)
    }

    private func deny(_ message: String) -> Outcome {
        session.error(message)
        session.requestFailDelay(microseconds: Self.failDelayMicroseconds)
        return .denied
    }
}

/// A made-up factor file for unknown users, so that checking their answer
/// costs what checking a real user's does.
enum Decoy {
    static func file(now: Int64) -> FactorFile {
        let secret = SecretBytes((try? SystemRandom.bytes(20)) ?? [UInt8](repeating: 0x5a, count: 20))
        var file = FactorFile()
        file.factors.append(TOTPAuthenticator(id: "totp-1", secret: secret, parameters: .standard, label: "decoy", created: now))
        for i in 0..<10 {
            file.factors.append(BackupCode(id: "backup-\(i)", salt: [UInt8](repeating: UInt8(i), count: 16),
                                           hash: [UInt8](repeating: 0, count: 32), created: now))
        }
        return file
    }
}
