/// `io.twostep.Manage` (SPEC §8), defined once: its name, its socket, its
/// methods and errors, and the interface description twostepd serves
/// (`org.varlink.service.GetInterfaceDescription`), in which every method's
/// parameters and reply are declared. twostepd's `ManageInterface` is keyed
/// by `Method` and takes each method's parameter names from `idl`; the
/// CLI's `DaemonAccountService` calls `Method`s and reads `ErrorName`s.
/// The unit tests check that `idl` declares exactly these methods and errors.
///
/// In TwoStepVarlink, not TwoStepWire: the PAM module never calls it, and
/// what TwoStepWire defines is linked into the module.
public enum ManageProtocol {
    /// The interface name.
    public static let interface = "io.twostep.Manage"
    /// The socket's file name in the socket directory (and its name under
    /// socket activation, FileDescriptorName=).
    public static let socketName = interface

    /// The methods, by their short names.
    public enum Method: String, VarlinkMember {
        case status = "Status"
        case enroll = "Enroll"
        case verify = "Verify"
        case newBackupCodes = "NewBackupCodes"
        case addAuthenticator = "AddAuthenticator"
        case sendPhoneConfirmation = "SendPhoneConfirmation"
        case addPhone = "AddPhone"
        case addSecurityKey = "AddSecurityKey"
        case remove = "Remove"
        case revokeTrust = "RevokeTrust"
        case disable = "Disable"
        case importGoogleAuthenticator = "ImportGoogleAuthenticator"
        case reset = "Reset"
        case databaseStatus = "DatabaseStatus"

        public static var interface: String { ManageProtocol.interface }
    }

    /// The interface's errors, by their short names; each has one
    /// parameter, `message`.
    public enum ErrorName: String, VarlinkMember {
        case usage = "UsageError"
        case codeRefused = "CodeRefused"
        case storeProblem = "StoreProblem"
        case permissionDenied = "PermissionDenied"
        case invalidUser = "InvalidUser"
        case notManaged = "NotManaged"
        case selfEnrollDisabled = "SelfEnrollDisabled"
        case busy = "Busy"

        public static var interface: String { ManageProtocol.interface }
    }

    /// The interface description: twostepd's contract with the CLI and any
    /// Varlink client (twostepd(8) explains it).
    public static let idl = """
        # Self-service for two-step verification (twostep). twostepd acts on the
        # record of the caller, known from the socket (SO_PEERCRED): an ordinary user
        # reaches their own record only, root may name any user with "user". Every
        # change to an enrolled record is authorised by "code", checked exactly as
        # a login checks it (lock-out, failure count, replay refusal, file lock) in
        # the same locked update as the change; a change that fails spends nothing.
        # No reply carries a secret or a hash; only \(Method.enroll) and \(Method.newBackupCodes) return
        # the backup codes they make, once.
        interface \(interface)

        # A new authenticator's key, made and shown by the client.
        type NewKey (secret: string, algorithm: string, digits: int, period: int, label: string)

        # A phone number (E.164, e.g. +966501234534) and its channel: sms or voice.
        type PhoneRequest (number: string, channel: string)

        # When a backup code authorised the change: how many are left.
        type Authorization (backupCodesLeft: ?int)

        type Authenticator (id: string, label: string, algorithm: string, digits: int, period: int, created: int)

        # number is masked: +966 ••• ••34.
        type PhoneEntry (id: string, channel: string, number: string, label: string, created: int)

        # A security key to enrol: its public key's text, and a label.
        type NewSecurityKey (key: string, label: string)

        # An enrolled security key: type as OpenSSH names it, fingerprint as
        # ssh-keygen -l prints it (SHA256:...); lastUsed: the last login it let in.
        type SecurityKeyEntry (id: string, type: string, fingerprint: string, label: string, created: int, lastUsed: ?int)

        type Device (id: string, service: string, rhost: ?string, key: ?string, created: int, expires: int)

        # What is set up, and the verification state (times in Unix seconds).
        method \(Method.status)(user: ?string) -> (
          user: string, path: string, exists: bool, enabled: bool,
          authenticators: []Authenticator, phones: []PhoneEntry, securityKeys: []SecurityKeyEntry, backupCodesLeft: int,
          trustedDevices: []Device, failures: int, lockedUntil: ?int, lastAccepted: ?int
        )

        # Creates the record (force: replaces it; then oldCode authorises). code is
        # the new app's current code. With phone, call \(Method.sendPhoneConfirmation) first
        # and give the code it sent as phoneConfirmation.
        method \(Method.enroll)(
          user: ?string, key: NewKey, code: string, backupCodes: int, phone: ?PhoneRequest,
          phoneLabel: ?string, phoneConfirmation: ?string, force: bool, oldCode: ?string
        ) -> (authenticatorID: string, backupCodes: []string, phoneID: ?string, replacedCorrupt: bool,
              authorization: Authorization)

        # Checks a code as a login would; an accepted code is spent.
        method \(Method.verify)(user: ?string, code: string) -> (backupCodesLeft: ?int)

        # Replaces the backup codes with count new ones.
        method \(Method.newBackupCodes)(user: ?string, count: int, code: ?string) -> (backupCodes: []string, authorization: Authorization)

        # Adds an authenticator; newCode is its current code.
        method \(Method.addAuthenticator)(user: ?string, key: NewKey, newCode: string, code: ?string) -> (id: string, authorization: Authorization)

        # Checks code (without spending it), counts the send and has the channel
        # plugin send a confirmation code to the phone. enrolment: for \(Method.enroll)
        # (with force, code is then the oldCode), not for \(Method.addPhone).
        method \(Method.sendPhoneConfirmation)(user: ?string, phone: PhoneRequest, code: ?string, enrolment: ?bool) -> (masked: string)

        # Adds the phone: confirmation is the code it received, code the same
        # authorising code as in \(Method.sendPhoneConfirmation) (spent now).
        method \(Method.addPhone)(user: ?string, phone: PhoneRequest, label: string, code: ?string, confirmation: string) -> (
          id: string, authorization: Authorization
        )

        # Enrols an OpenSSH security key (sk-ssh-ed25519@openssh.com or
        # sk-ecdsa-sha2-nistp256@openssh.com) as an additional method: key is the
        # public key's text, one authorized_keys line or a .pub file's content,
        # which the client reads (twostepd reads no home directory). Needs an
        # authenticator or a phone and a backup method; a key enrolled already, any
        # other key type or security_key_enrol=root (for a caller other than root)
        # is a \(ErrorName.usage). more: further keys enrolled in the same change,
        # authorised by the same code; the id returned is the first key's.
        method \(Method.addSecurityKey)(user: ?string, key: string, label: string, code: ?string, more: ?[]NewSecurityKey) -> (
          id: string, authorization: Authorization
        )

        # Removes an authenticator, a phone or a security key (never the last
        # authenticator or phone, nor the last backup method while keys remain).
        method \(Method.remove)(user: ?string, id: string, code: ?string) -> (backupCodesLeft: ?int)

        # Stops trusting one device (id) or all of them.
        method \(Method.revokeTrust)(user: ?string, id: ?string, all: bool, code: ?string) -> (revoked: int, authorization: Authorization)

        # Turns two-step verification off: the record is removed.
        method \(Method.disable)(user: ?string, code: ?string) -> (backupCodesLeft: ?int)

        # Creates the record from the text of a ~/.google_authenticator file.
        method \(Method.importGoogleAuthenticator)(user: ?string, content: string, label: string, force: bool, oldCode: ?string) -> (
          newBackupCodes: []string, lastStep: ?int, replacedCorrupt: bool, authorization: Authorization
        )

        # Root only: removes the named user's record whatever it holds.
        method \(Method.reset)(user: ?string) -> (removed: bool)

        # A standby the database server streams to; state and syncState are null
        # when the twostep role may not see them (pg_read_all_stats may).
        type Standby (name: string, state: ?string, syncState: ?string)

        # A change of the server in use (time in Unix seconds).
        type Failover (time: int, from: string, to: string, reason: string)

        # Milliseconds.
        type Latency (p50: float, p90: float, p99: float, max: float)

        # Root only: the fleet store's database as this twostepd sees it (SPEC §13):
        # backend (file: nothing else is set), the servers of database=, the one in
        # use and its role (primary, standby), or the problem asking it; whether it
        # has a synchronous standby (null: cannot be seen); whether it is known down;
        # the last failover; and the database calls, failures and latency since
        # twostepd started.
        method \(Method.databaseStatus)() -> (
          backend: string, hosts: []string, host: ?string, role: ?string, problem: ?string,
          synchronousStandbyNames: ?string, synchronousCommit: ?string, standbys: []Standby, synchronous: ?bool,
          knownDown: bool, lastFailover: ?Failover, calls: int, errors: int, latencyMs: ?Latency
        )

        # The request cannot be used as it is (a bad value, an unknown id).
        error \(ErrorName.usage) (message: string)
        # A code was refused, a lock-out runs, or two-step verification is off.
        error \(ErrorName.codeRefused) (message: string)
        # The record or the store failed (unsafe, corrupt, cannot be written).
        error \(ErrorName.storeProblem) (message: string)
        # An ordinary user named another user.
        error \(ErrorName.permissionDenied) (message: string)
        # The user name is malformed or unknown.
        error \(ErrorName.invalidUser) (message: string)
        # The configured store is not administrator-managed: the user's own files
        # are used directly, not through twostepd.
        error \(ErrorName.notManaged) (message: string)
        # self_enroll=no: a user with no record may not enrol through twostepd.
        error \(ErrorName.selfEnrollDisabled) (message: string)
        # The caller (a uid other than root) already has as many calls running
        # as twostepd allows one user; nothing was done.
        error \(ErrorName.busy) (message: string)
        """

    /// `idl`, read: each method's parameter names are what twostepd accepts
    /// in its calls. Nil only if `idl` were not a valid description (the
    /// unit tests parse it).
    public static let definition: VarlinkIDL.Interface? = try? VarlinkIDL.parse(idl)
}
