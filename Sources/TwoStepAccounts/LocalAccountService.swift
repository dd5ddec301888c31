import TwoStepChannels
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// `AccountService` on the factor file itself: what `twostep` does for a
/// home-directory store and for root, and what twostepd does for a caller.
///
/// Every change to an enrolled record checks its code with TwoStepCore's
/// `Verifier` inside the same locked update as the change (`change`,
/// `replace`, `disable`): a refused code is recorded and nothing else
/// changes; an accepted one is spent only if the change is committed.
public struct LocalAccountService: AccountService {
    /// Whose record it is.
    public let account: UserAccount
    /// The record: an `AccountFile`, or twostepd's database.
    public let store: any RecordStore
    /// True when users reach the record only through twostepd: an
    /// administrator-managed directory, or the database.
    public let isAdministratorManaged: Bool
    /// Root acting on another user: changes need no code.
    public let isAdministrator: Bool
    public let settings: AccountSettings
    public let confirmations: PhoneConfirmations
    /// Where sends are counted root-side, per account and per number
    /// (SPEC §5): root's `send_count_dir=` (the CLI as root, twostepd with
    /// files) or the database (twostepd in fleet mode). Nil only for an
    /// ordinary user's own store in the home directory, whose channel
    /// plugin runs as that user: the count is then the record's.
    public let sendCounter: (any SendCounter)?

    /// The service on a factor file (`RecordLocation.file`).
    public init(file: AccountFile, isAdministrator: Bool, settings: AccountSettings,
                confirmations: PhoneConfirmations = PhoneConfirmations(), sendCounter: (any SendCounter)? = nil) {
        self.init(account: file.account, store: file, isAdministratorManaged: file.isAdministratorManaged,
                  isAdministrator: isAdministrator, settings: settings, confirmations: confirmations, sendCounter: sendCounter)
    }

    /// The service on a record only root reaches: twostepd's database (fleet mode).
    public init(account: UserAccount, databaseStore: any RecordStore, isAdministrator: Bool, settings: AccountSettings,
                confirmations: PhoneConfirmations = PhoneConfirmations(), sendCounter: (any SendCounter)? = nil) {
        self.init(account: account, store: databaseStore, isAdministratorManaged: true,
                  isAdministrator: isAdministrator, settings: settings, confirmations: confirmations, sendCounter: sendCounter)
    }

    private init(account: UserAccount, store: any RecordStore, isAdministratorManaged: Bool, isAdministrator: Bool,
                 settings: AccountSettings, confirmations: PhoneConfirmations, sendCounter: (any SendCounter)?) {
        self.account = account
        self.store = store
        self.isAdministratorManaged = isAdministratorManaged
        self.isAdministrator = isAdministrator
        self.settings = settings
        self.confirmations = confirmations
        self.sendCounter = sendCounter
    }

    /// Runs `body` on the store; every error comes back as an `AccountError`.
    func access<T>(_ body: (any RecordStore) throws -> T) throws(AccountError) -> T {
        do { return try body(store) } catch { throw AccountError(any: error) }
    }

    var verifier: Verifier { Verifier(policy: settings.policy) }
    var name: String { account.name }
    var path: String { store.location }
    var off: AccountError {
        .refused("\(path) holds no authenticator or backup code: two-step verification is off for \(name); run 'twostep enroll'")
    }

    // MARK: Reading

    public func status() throws(AccountError) -> AccountStatus {
        let file = try access { store -> FactorFile? in
            do { return try store.read() } catch StoreError.notEnrolled { return nil }
        }
        return AccountStatus(file, user: name, path: path, verifier: verifier, now: Clock.now)
    }

    // MARK: Checking a code

    public func verify(_ request: VerifyRequest) throws(AccountError) -> Authorization {
        let decision = try access { store in
            try store.update { file -> Decision in
                let result = verifier.verify(request.code, in: file, at: Clock.now)
                file = result.file
                return result.decision
            }
        }
        guard case .accepted(let acceptance) = decision else { throw .refused(Self.message(for: decision)) }
        return Authorization(backupCodesLeft: acceptance.backupCodesLeft)
    }

    /// What to tell the user about a refused code or a lock-out.
    public static func message(for decision: Decision) -> String {
        switch decision {
        case .accepted:
            return "code accepted"
        case .refused(let refusal):
            var text = refusal.replay ? "that code was already used; wait for the next one" : "wrong code"
            if let until = refusal.lockedUntil {
                text += "; after \(refusal.failures) wrong codes in a row, codes are refused until \(Clock.local(until))"
            }
            return text
        case .lockedOut(let until):
            return "too many wrong codes: codes are refused until \(Clock.local(until)); no code was checked"
        }
    }

    /// Checks an authorising code against `file` (updating its state as a
    /// login would); root acting on another user needs none.
    func authorize(_ code: String?, _ file: inout FactorFile, at time: Int64) -> Result<Authorization, AccountError> {
        if isAdministrator { return .success(Authorization()) }
        guard let code else { return .failure(.usage("a code is needed to authorize the change; give it with --code")) }
        let result = verifier.verify(code, in: file, at: time)
        file = result.file
        guard case .accepted(let acceptance) = result.decision else { return .failure(.refused(Self.message(for: result.decision))) }
        return .success(Authorization(backupCodesLeft: acceptance.backupCodesLeft))
    }

    /// Checks `code` (as of `time`, default now) and makes the change in one
    /// locked update. A refused code is recorded and nothing else changes;
    /// an error thrown by `body` writes nothing, so the code is not spent.
    func change<T>(
        authorizing code: String?, at time: Int64? = nil, _ body: (inout FactorFile) throws -> T
    ) throws(AccountError) -> (T, Authorization) {
        let outcome: Result<(T, Authorization), AccountError> = try access { store in
            try store.update { file in
                guard file.isEnabled else { return .failure(off) }
                switch authorize(code, &file, at: time ?? Clock.now) {
                case .failure(let refusal): return .failure(refusal)
                case .success(let authorization): return .success((try body(&file), authorization))
                }
            }
        }
        return try outcome.get()
    }

    /// Puts `new` in place of an existing record (`--force`) in one locked
    /// update: a corrupt record is replaced without a code; an enabled one
    /// needs `oldCode` (a refusal is recorded in it and nothing is replaced).
    private func replace(with new: FactorFile, oldCode: String?) throws(AccountError) -> (corrupt: Bool, Authorization) {
        let outcome: Result<(Bool, Authorization), AccountError> = try access { store in
            try store.commit { current in
                switch current {
                case .failure(let error):
                    guard case .corrupt = error else { throw error }
                    try refuseReplacementWithoutCode(because: "is corrupt (\(error))")
                    return (.success((true, Authorization())), .write(new))
                case .success(var old):
                    guard old.isEnabled else {
                        try refuseReplacementWithoutCode(because: "holds no method")
                        return (.success((false, Authorization())), .write(new))
                    }
                    switch authorize(oldCode, &old, at: Clock.now) {
                    case .failure(let refusal): return (.failure(refusal), .write(old))
                    case .success(let authorization): return (.success((false, authorization)), .write(new))
                    }
                }
            }
        }
        return try outcome.get()
    }

    /// A record no code can authorise replacing (corrupt, or with no method
    /// left) is replaced only by root, or by the user in a store they own
    /// (they could remove their own file anyway). In an administrator-managed
    /// store a user could otherwise put a secret of their choosing over a
    /// record they cannot read.
    func refuseReplacementWithoutCode(because reason: String) throws(AccountError) {
        guard isAdministrator || !isAdministratorManaged || account.uid == 0 else {
            throw .failure("\(path) \(reason): only an administrator can replace it ('twostep reset --user \(name)' as root)")
        }
    }

    /// Writes a new record, or replaces the existing one with `force`.
    private func store(_ file: FactorFile, force: Bool, oldCode: String?) throws(AccountError) -> (corrupt: Bool, Authorization) {
        if try access({ try $0.exists() }) {
            guard force else {
                throw .usage("\(path) already exists: two-step verification is already set up for \(name). Use --force to replace it")
            }
            return try replace(with: file, oldCode: oldCode)
        }
        try access { store in
            do { try store.create(file) } catch StoreError.alreadyExists {
                throw AccountError.usage("\(path) was created meanwhile; use --force to replace it")
            }
        }
        return (false, Authorization())
    }

    // MARK: Enrolment

    public func enroll(_ request: EnrollRequest) throws(AccountError) -> EnrollResult {
        let least = request.phone == nil ? 1 : 0
        guard (least...100).contains(request.backupCodes) else {
            throw .usage(least == 1
                ? "a backup method is required: at least 1 backup code (at most 100), or a phone"
                : "backup codes: 0 to 100")
        }
        let now = Clock.now
        let authenticator = try confirmNew(
            try Self.authenticator(request.key, id: FactorFile().nextID(prefix: TOTPAuthenticator.idPrefix), now: now),
            code: request.code)
        var file = FactorFile(factors: [authenticator])
        var phoneID: String?
        if let wanted = request.phone {
            let (number, channel) = try Self.parse(wanted)
            try Self.checkLabel(request.phoneLabel ?? "phone")
            // Sent with the old code when a record is replaced (--force), with none for a new one.
            try takeConfirmation(number, channel, answer: request.phoneConfirmation ?? "", code: request.oldCode, at: now)
            let added = Phone(id: file.nextID(prefix: Phone.idPrefix), number: number, channel: channel,
                              label: request.phoneLabel ?? "phone", created: now)
            file.factors.append(added)
            settings.sendPolicy.record(&file.sends, at: now)
            phoneID = added.id
        }
        let codes = try Self.replaceBackupCodes(in: &file, count: request.backupCodes, at: now)
        let (corrupt, authorization) = try store(file, force: request.force, oldCode: request.oldCode)
        if let added = file.phones.first { noteConfirmed(added.number, at: now) }
        return EnrollResult(authenticatorID: authenticator.id, backupCodes: codes, phoneID: phoneID,
                            replacedCorrupt: corrupt, authorization: authorization)
    }

    public func importGoogleAuthenticator(_ request: ImportRequest) throws(AccountError) -> ImportResult {
        let old: GoogleAuthenticatorFile
        do { old = try GoogleAuthenticatorFile(parsing: request.content) } catch {
            throw .failure("the google-authenticator file: \(error); nothing was written")
        }
        guard old.timeBased else {
            throw .failure("the google-authenticator file is set up for counter-based codes (HOTP), which twostep does not support: it uses time-based codes (TOTP) only. Nothing was written. Set the user up anew with 'twostep enroll' (the app needs the new key)")
        }
        try Self.checkLabel(request.label)
        let now = Clock.now
        var file = FactorFile()
        let parameters: OTPParameters
        do { parameters = try OTPParameters(algorithm: .sha1, digits: 6, period: old.stepSize) } catch { throw AccountError(error) }
        let currentStep = OTP.timeStep(at: now, period: old.stepSize)
        // Steps google-authenticator saw used lately stay used (no replay across the move).
        let lastStep = old.usedSteps.filter { $0 <= currentStep + 1 }.max()
        file.factors.append(TOTPAuthenticator(
            id: file.nextID(prefix: TOTPAuthenticator.idPrefix), secret: SecretBytes(old.secret),
            parameters: parameters, label: request.label, created: now, lastStep: lastStep))
        do {
            for code in old.scratchCodes {
                file.factors.append(try BackupCode.importing(code, id: file.nextID(prefix: BackupCode.idPrefix), created: now))
            }
        } catch { throw AccountError(error) }
        let newCodes = old.scratchCodes.isEmpty ? try Self.replaceBackupCodes(in: &file, count: 10, at: now) : []
        let (corrupt, authorization) = try store(file, force: request.force, oldCode: request.oldCode)
        return ImportResult(newBackupCodes: newCodes, lastStep: lastStep, replacedCorrupt: corrupt, authorization: authorization)
    }

    // MARK: Changes

    public func newBackupCodes(_ request: NewBackupCodesRequest) throws(AccountError) -> BackupCodesResult {
        guard (1...100).contains(request.count) else { throw .usage("the number of backup codes must be 1 to 100") }
        let (codes, authorization) = try change(authorizing: request.code) { file in
            try Self.replaceBackupCodes(in: &file, count: request.count, at: Clock.now)
        }
        return BackupCodesResult(backupCodes: codes, authorization: authorization)
    }

    public func addAuthenticator(_ request: AddAuthenticatorRequest) throws(AccountError) -> AddedResult {
        // The new app's code first: when it is wrong, the authorising code is not even checked.
        let confirmed = try confirmNew(
            try Self.authenticator(request.key, id: TOTPAuthenticator.idPrefix + "-new", now: Clock.now), code: request.newCode)
        let (id, authorization) = try change(authorizing: request.code) { file in
            var added = confirmed
            added.id = file.nextID(prefix: TOTPAuthenticator.idPrefix)
            file.factors.append(added)
            return added.id
        }
        return AddedResult(id: id, authorization: authorization)
    }

    /// The send limit's refusal.
    static func tooMany(_ until: Int64) -> AccountError {
        .refused("too many codes were sent recently; try again after \(Clock.local(until))")
    }

    public func remove(_ request: RemoveRequest) throws(AccountError) -> Authorization {
        try change(authorizing: request.code) { file in
            try Self.checkRemovable(request.id, in: file)
            file.removeFactor(id: request.id)
        }.1
    }

    public func revokeTrust(_ request: RevokeTrustRequest) throws(AccountError) -> RevokedResult {
        guard (request.id != nil) != request.all else { throw .usage("give the id of one trusted device, or all") }
        let (revoked, authorization) = try change(authorizing: request.code) { file in
            if let id = request.id, !file.trustedDevices.contains(where: { $0.id == id }) {
                throw AccountError.usage("there is no trusted device with id '\(id)'; 'twostep trust list' lists them")
            }
            let before = file.trustedDevices.count
            file.trustedDevices.removeAll { request.all || $0.id == request.id }
            return before - file.trustedDevices.count
        }
        return RevokedResult(revoked: revoked, authorization: authorization)
    }

    public func disable(_ request: DisableRequest) throws(AccountError) -> Authorization {
        let outcome: Result<Authorization, AccountError> = try access { store in
            try store.commit { current in
                var file = try current.get()
                guard file.isEnabled else { return (.success(Authorization()), .remove) }
                switch authorize(request.code, &file, at: Clock.now) {
                case .failure(let refusal): return (.failure(refusal), .write(file))
                case .success(let authorization): return (.success(authorization), .remove)
                }
            }
        }
        return try outcome.get()
    }

    public func reset() throws(AccountError) -> ResetResult {
        guard isAdministrator else { throw .usage("reset is for root only; to turn your own two-step verification off use 'twostep disable'") }
        try access { try $0.remove() }
        return ResetResult(removed: true)
    }

    // MARK: Helpers

    /// Takes the confirmation sent to a phone and checks the answer and the
    /// authorising code against it; returns when that code was checked.
    @discardableResult

    /// Checks a code from a new app the way a login would and returns the
    /// authenticator with that time step recorded (the code cannot log in again).
    private func confirmNew(_ authenticator: TOTPAuthenticator, code: String) throws(AccountError) -> TOTPAuthenticator {
        let result = verifier.verify(code, in: FactorFile(factors: [authenticator]), at: Clock.now)
        guard case .accepted = result.decision, let confirmed = result.file.authenticators.first else {
            throw .refused(
                "that is not the code the new authenticator shows now; nothing was saved. Check that the app and this machine have the right time, and try again")
        }
        return confirmed
    }

    /// The authenticator a `NewKey` describes.
    static func authenticator(_ key: NewKey, id: String, now: Int64) throws(AccountError) -> TOTPAuthenticator {
        do {
            let bytes = try Base32.decode(key.secret)
            var copy = bytes
            defer { cleanse(&copy) }
            guard copy.count >= 10 else { throw TwoStepError.secretTooShort(bytes: copy.count) }
            guard let algorithm = OTPAlgorithm(name: key.algorithm) else {
                throw AccountError.usage("unknown algorithm '\(key.algorithm)' (SHA1, SHA256 or SHA512)")
            }
            try checkLabel(key.label)
            let parameters = try OTPParameters(algorithm: algorithm, digits: key.digits, period: key.period)
            return TOTPAuthenticator(id: id, secret: SecretBytes(copy), parameters: parameters, label: key.label, created: now)
        } catch {
            throw AccountError(any: error)
        }
    }

    static func parse(_ phone: PhoneRequest) throws(AccountError) -> (PhoneNumber, ChannelKind) {
        guard let channel = ChannelKind(rawValue: phone.channel) else { throw .usage("the channel must be sms or voice") }
        do { return (try PhoneNumber(parsing: phone.number), channel) } catch { throw AccountError(error) }
    }

    /// Removes every backup code from `file`, adds `count` new ones and
    /// returns them in clear, to be shown once (the file keeps hashes only).
    static func replaceBackupCodes(in file: inout FactorFile, count: Int, at now: Int64) throws(AccountError) -> [String] {
        file.factors.removeAll { $0 is BackupCode }
        var codes = [String]()
        do {
            for _ in 0..<count {
                let made = try BackupCode.generate(id: file.nextID(prefix: BackupCode.idPrefix), created: now)
                file.factors.append(made.factor)
                codes.append(made.code)
            }
        } catch { throw AccountError(error) }
        return codes
    }

    static func checkRemovable(_ id: String, in file: FactorFile) throws(AccountError) {
        // The rules are Core's (MethodRules): the same for every caller.
        do { try MethodRules.checkRemoval(of: id, from: file) } catch { throw .usage(error.description) }
    }
}

extension LocalAccountService {
    /// A label as records and listings show it: `PrintableText`'s rule (1 to
    /// 64 characters, at most 256 bytes, no control or invisible formatting
    /// character), the same for the CLI and twostepd.
    static func checkLabel(_ label: String) throws(AccountError) {
        if let problem = PrintableText.problem(inLabel: label) { throw .usage(problem) }
    }
}
