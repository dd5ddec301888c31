extension ManageInterface {
    /// The interface description: twostepd's contract with the CLI and any
    /// Varlink client (`GetInterfaceDescription` returns it; twostepd(8)
    /// explains it).
    static let idl = """
        # Self-service for two-step verification (twostep). twostepd acts on the
        # record of the caller, known from the socket (SO_PEERCRED): an ordinary user
        # reaches their own record only, root may name any user with "user". Every
        # change to an enrolled record is authorised by "code", checked exactly as
        # a login checks it (lock-out, failure count, replay refusal, file lock) in
        # the same locked update as the change; a change that fails spends nothing.
        # No reply carries a secret or a hash; only Enroll and NewBackupCodes return
        # the backup codes they make, once.
        interface io.twostep.Manage

        # A new authenticator's key, made and shown by the client.
        type NewKey (secret: string, algorithm: string, digits: int, period: int, label: string)

        # A phone number (E.164, e.g. +966501234534) and its channel: sms or voice.
        type PhoneRequest (number: string, channel: string)

        # When a backup code authorised the change: how many are left.
        type Authorization (backupCodesLeft: ?int)

        type Authenticator (id: string, label: string, algorithm: string, digits: int, period: int, created: int)

        # number is masked: +966 ••• ••34.
        type PhoneEntry (id: string, channel: string, number: string, label: string, created: int)

        type Device (id: string, service: string, rhost: ?string, key: ?string, created: int, expires: int)

        # What is set up, and the verification state (times in Unix seconds).
        method Status(user: ?string) -> (
          user: string, path: string, exists: bool, enabled: bool,
          authenticators: []Authenticator, phones: []PhoneEntry, backupCodesLeft: int,
          trustedDevices: []Device, failures: int, lockedUntil: ?int, lastAccepted: ?int
        )

        # Creates the record (force: replaces it; then oldCode authorises). code is
        # the new app's current code. With phone, call SendPhoneConfirmation first
        # and give the code it sent as phoneConfirmation.
        method Enroll(
          user: ?string, key: NewKey, code: string, backupCodes: int, phone: ?PhoneRequest,
          phoneLabel: ?string, phoneConfirmation: ?string, force: bool, oldCode: ?string
        ) -> (authenticatorID: string, backupCodes: []string, phoneID: ?string, replacedCorrupt: bool,
              authorization: Authorization)

        # Checks a code as a login would; an accepted code is spent.
        method Verify(user: ?string, code: string) -> (backupCodesLeft: ?int)

        # Replaces the backup codes with count new ones.
        method NewBackupCodes(user: ?string, count: int, code: ?string) -> (backupCodes: []string, authorization: Authorization)

        # Adds an authenticator; newCode is its current code.
        method AddAuthenticator(user: ?string, key: NewKey, newCode: string, code: ?string) -> (id: string, authorization: Authorization)

        # Checks code (without spending it), counts the send and has the channel
        # plugin send a confirmation code to the phone. enrolment: for Enroll
        # (with force, code is then the oldCode), not for AddPhone.
        method SendPhoneConfirmation(user: ?string, phone: PhoneRequest, code: ?string, enrolment: ?bool) -> (masked: string)

        # Adds the phone: confirmation is the code it received, code the same
        # authorising code as in SendPhoneConfirmation (spent now).
        method AddPhone(user: ?string, phone: PhoneRequest, label: string, code: ?string, confirmation: string) -> (
          id: string, authorization: Authorization
        )

        # Removes an authenticator or a phone (never the last one).
        method Remove(user: ?string, id: string, code: ?string) -> (backupCodesLeft: ?int)

        # Stops trusting one device (id) or all of them.
        method RevokeTrust(user: ?string, id: ?string, all: bool, code: ?string) -> (revoked: int, authorization: Authorization)

        # Turns two-step verification off: the record is removed.
        method Disable(user: ?string, code: ?string) -> (backupCodesLeft: ?int)

        # Creates the record from the text of a ~/.google_authenticator file.
        method ImportGoogleAuthenticator(user: ?string, content: string, label: string, force: bool, oldCode: ?string) -> (
          newBackupCodes: []string, lastStep: ?int, replacedCorrupt: bool, authorization: Authorization
        )

        # Root only: removes the named user's record whatever it holds.
        method Reset(user: ?string) -> (removed: bool)

        # The request cannot be used as it is (a bad value, an unknown id).
        error UsageError (message: string)
        # A code was refused, a lock-out runs, or two-step verification is off.
        error CodeRefused (message: string)
        # The record or the store failed (unsafe, corrupt, cannot be written).
        error StoreProblem (message: string)
        # An ordinary user named another user.
        error PermissionDenied (message: string)
        # The user name is malformed or unknown.
        error InvalidUser (message: string)
        # The configured store is not administrator-managed: the user's own files
        # are used directly, not through twostepd.
        error NotManaged (message: string)
        # self_enroll=no: a user with no record may not enrol through twostepd.
        error SelfEnrollDisabled (message: string)
        # The caller (a uid other than root) already has as many calls running
        # as twostepd allows one user; nothing was done.
        error Busy (message: string)
        """
}
