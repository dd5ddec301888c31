/// The rules for which methods a file must keep (SPEC §4, §11): what may
/// be removed, and when a security key may be added. Pure: the CLI's and
/// twostepd's operations (`LocalAccountService`) call these on the file
/// they read under the lock, before they change it.
///
/// - A code method is an authenticator app or a phone: every enabled file
///   keeps one (`twostep disable` turns two-step verification off
///   instead). A security key is not one: sudo and the console cannot use
///   an SSH key.
/// - A backup method is a backup code, or a phone besides another code
///   method (a phone that is the only code method is not its own backup).
/// - A security key is an additional method, never the only one: it is
///   enrolled only into a file with a code method and a backup method,
///   and while keys remain, neither the last code method nor the last
///   backup method can be removed. A key itself can always be removed.
///
/// Backup codes are not removed one by one (`twostep codes` replaces the
/// set, and a login spends one): a file whose last backup code was spent
/// keeps its keys, but no further key is added until it has new codes.
public enum MethodRules {
    /// Why a change is refused. The descriptions are for the user (the
    /// CLI prints them as usage errors); they hold ids and key fingerprints only.
    public enum Violation: Error, Sendable, Equatable, CustomStringConvertible {
        /// No factor has this id.
        case noSuchMethod(id: String)
        /// A backup code: they are replaced as a set.
        case backupCode(id: String)
        /// A code sent to a phone: not a method; it expires by itself.
        case notAMethod(id: String)
        /// The only authenticator app or phone.
        case lastCodeMethod(id: String)
        /// Removing this method would leave no backup method while security
        /// keys are enrolled (the last backup code set or phone, or the
        /// app beside a phone that would then be the only code method).
        case lastBackupMethod(id: String)
        /// Adding a key to a file with no authenticator app or phone.
        case keyNeedsCodeMethod
        /// Adding a key to a file with no backup method.
        case keyNeedsBackupMethod
        /// This key (the same blob) is enrolled already, as `id`.
        case keyAlreadyEnrolled(id: String, fingerprint: String)
        /// `security_key_enrol=root` and the caller is not root.
        case keyEnrolmentByRootOnly
        /// The label is not one `twostep status` can show (`PrintableText.problem(inLabel:)`).
        case invalidLabel(String)

        public var description: String {
            switch self {
            case .noSuchMethod(let id):
                "there is no method with id '\(id)'; 'twostep status' lists them"
            case .backupCode(let id):
                "'\(id)' is a backup code: 'twostep codes' replaces the whole set"
            case .notAMethod(let id):
                "'\(id)' is a code sent to a phone, not a method; it expires by itself"
            case .lastCodeMethod(let id):
                "'\(id)' is your only authenticator or phone. To turn two-step verification off use 'twostep disable'; "
                    + "to replace it, 'twostep add totp' or 'twostep add phone' first"
            case .lastBackupMethod(let id):
                "without '\(id)' you would have no backup method, which security keys need (sudo and the console cannot use "
                    + "an SSH key): make backup codes ('twostep codes') or add a phone first, or remove your security keys"
            case .keyNeedsCodeMethod:
                "a security key is an additional method: add an authenticator app or a phone first "
                    + "(sudo and the console cannot use an SSH key)"
            case .keyNeedsBackupMethod:
                "a security key is an additional method: make backup codes ('twostep codes') or add a phone first"
            case .keyAlreadyEnrolled(let id, let fingerprint):
                "the key \(fingerprint) is enrolled already, as '\(id)'"
            case .keyEnrolmentByRootOnly:
                "security keys are enrolled by root here (security_key_enrol=root): ask an administrator"
            case .invalidLabel(let why):
                why
            }
        }
    }

    /// What a file has of the methods the rules count.
    struct Census {
        var codeMethods = 0
        var phones = 0
        var backupCodes = 0
        var securityKeys = 0

        init(_ factors: some Sequence<any Factor>) {
            for factor in factors {
                switch factor {
                case is TOTPAuthenticator: codeMethods += 1
                case is Phone: codeMethods += 1; phones += 1
                case is BackupCode: backupCodes += 1
                case is SecurityKey: securityKeys += 1
                default: break
                }
            }
        }

        var hasCodeMethod: Bool { codeMethods > 0 }
        /// A backup code, or a phone besides another code method.
        var hasBackupMethod: Bool { backupCodes > 0 || (phones > 0 && codeMethods > 1) }
    }

    /// True when `file` has an authenticator app or a phone.
    public static func hasCodeMethod(_ file: FactorFile) -> Bool { Census(file.factors).hasCodeMethod }

    /// True when `file` has a backup method: a backup code, or a phone
    /// besides another authenticator app or phone.
    public static func hasBackupMethod(_ file: FactorFile) -> Bool { Census(file.factors).hasBackupMethod }

    /// Checks that the factor `id` may be removed from `file` (`twostep
    /// remove ID`): it exists, is a method removed one by one (not a
    /// backup code or a sent code), is not the only authenticator app or
    /// phone, and, while security keys remain, is not the last backup
    /// method either. A security key may always be removed.
    public static func checkRemoval(of id: String, from file: FactorFile) throws(Violation) {
        guard let factor = file.factors.first(where: { $0.id == id }) else { throw .noSuchMethod(id: id) }
        if factor is SecurityKey { return }
        guard !(factor is BackupCode) else { throw .backupCode(id: id) }
        guard type(of: factor).isMethod else { throw .notAMethod(id: id) }
        let before = Census(file.factors)
        let after = Census(file.factors.lazy.filter { $0.id != id })
        guard after.hasCodeMethod else { throw .lastCodeMethod(id: id) }
        if after.securityKeys > 0, before.hasBackupMethod, !after.hasBackupMethod { throw .lastBackupMethod(id: id) }
    }

    /// Checks that `key` may be enrolled into `file`: the file has an
    /// authenticator app or a phone and a backup method, and does not
    /// hold this key already (the whole blob compared with every enrolled
    /// key, `SSHPublicKey.matches(blob:)`).
    public static func checkAdding(_ key: SSHPublicKey, to file: FactorFile) throws(Violation) {
        let census = Census(file.factors)
        guard census.hasCodeMethod else { throw .keyNeedsCodeMethod }
        guard census.hasBackupMethod else { throw .keyNeedsBackupMethod }
        var existing: SecurityKey?
        for enrolled in file.securityKeys where enrolled.key.matches(blob: key.blob) {
            if existing == nil { existing = enrolled }
        }
        if let existing { throw .keyAlreadyEnrolled(id: existing.id, fingerprint: existing.fingerprint) }
    }

    /// Checks that a caller who is (`administrator`) or is not root may
    /// enrol a key under `policy` (`security_key_enrol=`).
    public static func checkKeyEnrolment(by administrator: Bool, policy: SystemConfiguration.SecurityKeyEnrol) throws(Violation) {
        guard policy.allows(administrator: administrator) else { throw .keyEnrolmentByRootOnly }
    }
}

extension FactorFile {
    /// Enrols `key` as a new security key labelled `label` at `now`, after
    /// `MethodRules.checkAdding` and the label rule of `twostep-factors(5)`;
    /// returns the new factor (its id is the next free `key-N`). Who may
    /// enrol (`MethodRules.checkKeyEnrolment`) and the code that authorises
    /// the change are the caller's.
    @discardableResult
    public mutating func addSecurityKey(_ key: SSHPublicKey, label: String, at now: Int64) throws(MethodRules.Violation) -> SecurityKey {
        try MethodRules.checkAdding(key, to: self)
        if let problem = PrintableText.problem(inLabel: label) { throw .invalidLabel(problem) }
        let added = SecurityKey(id: nextID(prefix: SecurityKey.idPrefix), key: key, label: label, created: now)
        factors.append(added)
        return added
    }
}
