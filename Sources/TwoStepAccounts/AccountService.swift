/// Everything `twostep` does to one user's record, as one interface with
/// two implementations: `LocalAccountService` works on the factor file
/// itself (a home-directory store, root, and twostepd's side of the
/// socket), the CLI's `DaemonAccountService` asks twostepd to
/// (an ordinary user of an administrator-managed store, SPEC §8).
///
/// The CLI's commands are written once against this protocol: they ask
/// the questions, call one method per change and print the result, so
/// output, prompts and exit codes are the same on both paths.
///
/// Every method that changes an enabled user's record takes the code that
/// authorises it (`code`; nil only for root acting on another user) and
/// checks it exactly as a login does, in the same locked update as the
/// change: a wrong code counts towards the lock-out, a right one is spent
/// only when the change is committed, and a change that fails spends
/// nothing. No method returns a secret or a hash of one, except that
/// `enroll` and `newBackupCodes` return the backup codes they just made,
/// once.
public protocol AccountService {
    /// What is set up, and the verification state (no secret, no hash).
    func status() throws(AccountError) -> AccountStatus
    /// Creates the record (or replaces it, with `force`).
    func enroll(_ request: EnrollRequest) throws(AccountError) -> EnrollResult
    /// Checks a code as a login would; an accepted code is spent.
    func verify(_ request: VerifyRequest) throws(AccountError) -> Authorization
    /// Replaces the backup codes with a new set.
    func newBackupCodes(_ request: NewBackupCodesRequest) throws(AccountError) -> BackupCodesResult
    /// Adds an authenticator, confirmed by a code from it.
    func addAuthenticator(_ request: AddAuthenticatorRequest) throws(AccountError) -> AddedResult
    /// Checks the authorising code (without spending it) and sends a
    /// confirmation code to a phone that is to be added.
    func sendPhoneConfirmation(_ request: PhoneConfirmationRequest) throws(AccountError) -> SentResult
    /// Adds the phone whose confirmation code was sent and is typed back.
    func addPhone(_ request: AddPhoneRequest) throws(AccountError) -> AddedResult
    /// Enrols an OpenSSH security key (SPEC §11), as an additional method
    /// (and `more`, in the same change); the id is the first key's.
    func addSecurityKey(_ request: AddSecurityKeyRequest) throws(AccountError) -> AddedResult
    /// Removes an authenticator, a phone or a security key.
    func remove(_ request: RemoveRequest) throws(AccountError) -> Authorization
    /// Stops trusting one device or all of them.
    func revokeTrust(_ request: RevokeTrustRequest) throws(AccountError) -> RevokedResult
    /// Turns two-step verification off: the record is removed.
    func disable(_ request: DisableRequest) throws(AccountError) -> Authorization
    /// Creates the record from a `~/.google_authenticator` file's content.
    func importGoogleAuthenticator(_ request: ImportRequest) throws(AccountError) -> ImportResult
    /// Root only: removes the record whatever it holds.
    func reset() throws(AccountError) -> ResetResult
}

/// What the authorising code did: when it was a backup code, how many are left.
public struct Authorization: Codable, Sendable, Equatable {
    public var backupCodesLeft: Int?
    public init(backupCodesLeft: Int? = nil) { self.backupCodesLeft = backupCodesLeft }
}

/// A new TOTP key as the CLI made it (and showed it): Base32 secret and parameters.
public struct NewKey: Codable, Sendable, Equatable {
    public var secret: String
    public var algorithm: String
    public var digits: Int
    public var period: Int
    public var label: String
    public init(secret: String, algorithm: String, digits: Int, period: Int, label: String) {
        self.secret = secret; self.algorithm = algorithm; self.digits = digits; self.period = period; self.label = label
    }
}

/// A phone number (E.164) with its channel, `sms` or `voice`.
public struct PhoneRequest: Codable, Sendable, Equatable {
    public var number: String
    public var channel: String
    public init(number: String, channel: String) { self.number = number; self.channel = channel }
}

public struct EnrollRequest: Codable, Sendable, Equatable {
    public var key: NewKey
    /// The code the new app shows now.
    public var code: String
    public var backupCodes: Int
    public var phone: PhoneRequest?
    public var phoneLabel: String?
    /// The code sent to `phone` (after `sendPhoneConfirmation`).
    public var phoneConfirmation: String?
    /// Replace an existing record.
    public var force: Bool
    /// With `force`: a code from the existing record.
    public var oldCode: String?
    public init(key: NewKey, code: String, backupCodes: Int, phone: PhoneRequest? = nil, phoneLabel: String? = nil,
                phoneConfirmation: String? = nil, force: Bool = false, oldCode: String? = nil) {
        self.key = key; self.code = code; self.backupCodes = backupCodes; self.phone = phone; self.phoneLabel = phoneLabel
        self.phoneConfirmation = phoneConfirmation; self.force = force; self.oldCode = oldCode
    }
}

public struct EnrollResult: Codable, Sendable, Equatable {
    public var authenticatorID: String
    public var backupCodes: [String]
    public var phoneID: String?
    /// The record replaced was corrupt (replaced without a code).
    public var replacedCorrupt: Bool
    public var authorization: Authorization
}

public struct VerifyRequest: Codable, Sendable, Equatable {
    public var code: String
    public init(code: String) { self.code = code }
}

public struct NewBackupCodesRequest: Codable, Sendable, Equatable {
    public var count: Int
    public var code: String?
    public init(count: Int, code: String?) { self.count = count; self.code = code }
}

public struct BackupCodesResult: Codable, Sendable, Equatable {
    public var backupCodes: [String]
    public var authorization: Authorization
}

public struct AddAuthenticatorRequest: Codable, Sendable, Equatable {
    public var key: NewKey
    /// The code the new app shows now.
    public var newCode: String
    public var code: String?
    public init(key: NewKey, newCode: String, code: String?) { self.key = key; self.newCode = newCode; self.code = code }
}

public struct AddedResult: Codable, Sendable, Equatable {
    public var id: String
    public var authorization: Authorization
}

public struct PhoneConfirmationRequest: Codable, Sendable, Equatable {
    public var phone: PhoneRequest
    /// The authorising code (checked, not spent); nil for a user who is
    /// not enrolled yet (`enroll --phone`) and for root acting on another user.
    public var code: String?
    /// For `enroll` (true) rather than `addPhone`: a phone the record being
    /// replaced already has is no reason to refuse.
    public var enrolment: Bool?
    public init(phone: PhoneRequest, code: String?, enrolment: Bool? = nil) {
        self.phone = phone; self.code = code; self.enrolment = enrolment
    }
}

public struct SentResult: Codable, Sendable, Equatable {
    /// The number as shown to the user (`+966 ••• ••34`).
    public var masked: String
}

public struct AddPhoneRequest: Codable, Sendable, Equatable {
    public var phone: PhoneRequest
    public var label: String
    /// The same authorising code as in `sendPhoneConfirmation`.
    public var code: String?
    /// The code the phone received.
    public var confirmation: String
    public init(phone: PhoneRequest, label: String, code: String?, confirmation: String) {
        self.phone = phone; self.label = label; self.code = code; self.confirmation = confirmation
    }
}

public struct AddSecurityKeyRequest: Codable, Sendable, Equatable {
    /// The public key as text: one `authorized_keys` line or a `.pub` file's
    /// content (`[options] TYPE BASE64 [comment]`), read by the CLI as the
    /// user (twostepd never reads a home directory). An sk type only.
    public var key: String
    public var label: String
    public var code: String?
    /// Further keys enrolled in the same change, authorised by the same
    /// code (`add key --from-authorized-keys --all`: a code works once).
    public var more: [NewSecurityKey]?
    public init(key: String, label: String, code: String?, more: [NewSecurityKey]? = nil) {
        self.key = key; self.label = label; self.code = code; self.more = more
    }
}

/// A public key's text and its label, as in `AddSecurityKeyRequest`.
public struct NewSecurityKey: Codable, Sendable, Equatable {
    public var key: String
    public var label: String
    public init(key: String, label: String) { self.key = key; self.label = label }
}

public struct RemoveRequest: Codable, Sendable, Equatable {
    public var id: String
    public var code: String?
    public init(id: String, code: String?) { self.id = id; self.code = code }
}

public struct RevokeTrustRequest: Codable, Sendable, Equatable {
    /// One device's id; nil with `all`.
    public var id: String?
    public var all: Bool
    public var code: String?
    public init(id: String?, all: Bool, code: String?) { self.id = id; self.all = all; self.code = code }
}

public struct RevokedResult: Codable, Sendable, Equatable {
    public var revoked: Int
    public var authorization: Authorization
}

public struct DisableRequest: Codable, Sendable, Equatable {
    public var code: String?
    public init(code: String?) { self.code = code }
}

public struct ImportRequest: Codable, Sendable, Equatable {
    /// The `~/.google_authenticator` file's text, read by the CLI as the user.
    public var content: String
    public var label: String
    public var force: Bool
    public var oldCode: String?
    public init(content: String, label: String, force: Bool, oldCode: String?) {
        self.content = content; self.label = label; self.force = force; self.oldCode = oldCode
    }
}

public struct ImportResult: Codable, Sendable, Equatable {
    /// Backup codes made because the file had no scratch codes (shown once).
    public var newBackupCodes: [String]
    /// The last time step google-authenticator saw used, kept used.
    public var lastStep: UInt64?
    public var replacedCorrupt: Bool
    public var authorization: Authorization
}

public struct ResetResult: Codable, Sendable, Equatable {
    public var removed: Bool
}
