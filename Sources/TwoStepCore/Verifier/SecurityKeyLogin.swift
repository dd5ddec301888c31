/// The security-key step of a login (SPEC §11): whether the SSH key that
/// passed the first step is one the user enrolled in twostep, so that the
/// login needs no code. Pure: the parsed file, the `SSH_AUTH_INFO_0` value,
/// the policy and the time in; a decision and the new file out.
///
/// Where it sits: the module asks it where it looks for a trusted device
/// (SPEC §3 step 2), before the lock-out. It reads neither the failure
/// count nor the lock-out and changes neither: a lock-out stops code
/// guessing, not hardware, and a key login is not a code. The caller
/// reads `SSH_AUTH_INFO_0` with `pam_getenv` in `pam_sm_authenticate` only
/// (a user's `~/.pam_environment` can change the PAM environment of the
/// session stack), logs an acceptance as `security key <id>` and stores
/// the returned file (only `last-used` changed). With `offline=cached`
/// (SPEC §9) twostepd may decide from its cached copy and then drops the
/// new file: a key's last use is not journalled.
///
/// What counts is the whole key blob of a completed `publickey` method,
/// compared with every enrolled key's blob (`SSHPublicKey.matches(blob:)`,
/// constant time for equal lengths; every pair is compared, with no early
/// exit). A key merely of an sk type counts for nothing: OpenSSH's test
/// provider makes valid ones with no hardware, and `authorized_keys` is
/// the user's to edit. `touch` and `verify` decide alike here: PAM cannot
/// see a signature's flags, sshd enforces them (`SecurityKeyPolicy`).
public struct SecurityKeyLogin: Sendable, Equatable {
    public var policy: SecurityKeyPolicy

    public init(policy: SecurityKeyPolicy) { self.policy = policy }

    /// What the check decided.
    public enum Outcome: Sendable, Equatable {
        /// The login used the enrolled key `keyID`: no code is needed.
        /// `file` is the file to store: the key's `last-used` is `now`,
        /// nothing else changed.
        case accepted(keyID: String, file: FactorFile)
        /// The key does not replace the code: the usual flow goes on
        /// (trusted device, lock-out, code). The reason is for the log.
        case notApplicable(NotApplicable)
    }

    /// Why a login's key does not replace its code. The descriptions are
    /// for syslog: they hold no secret (keys and fingerprints are public;
    /// text from `SSH_AUTH_INFO_0` is shown escaped and cut short).
    public enum NotApplicable: Error, Sendable, Equatable, CustomStringConvertible {
        /// `security_keys=off`.
        case policyOff
        /// The user has no security key enrolled.
        case noKeyEnrolled
        /// `SSH_AUTH_INFO_0` is unset or empty: not an SSH login, or one
        /// with no method completed before this one (`password`, or
        /// `keyboard-interactive` alone).
        case noAuthInfo
        /// `SSH_AUTH_INFO_0` is not what sshd writes.
        case unreadableAuthInfo(SecurityKeyError)
        /// No `publickey` method completed before this one.
        case noPublicKey
        /// The completed `publickey` methods used keys of these types,
        /// none of them a security key.
        case notASecurityKey(types: [String])
        /// The login's security keys (these fingerprints) are not enrolled.
        case notEnrolled(fingerprints: [String])

        public var description: String {
            switch self {
            case .policyOff:
                "security keys are off (security_keys=off)"
            case .noKeyEnrolled:
                "no security key is enrolled"
            case .noAuthInfo:
                "SSH_AUTH_INFO_0 is unset or empty (no SSH key passed the first step)"
            case .unreadableAuthInfo(let error):
                "SSH_AUTH_INFO_0 is not what sshd writes: \(error)"
            case .noPublicKey:
                "no publickey method completed before this one"
            case .notASecurityKey(let types):
                "the login's key is not a security key (\(types.map(SecurityKeyError.quoted).joined(separator: ", ")))"
            case .notEnrolled(let fingerprints):
                "the login's security key is not enrolled (\(fingerprints.joined(separator: ", ")))"
            }
        }
    }

    /// Decides whether the login whose `SSH_AUTH_INFO_0` is `authInfo`
    /// (nil when unset) passed with one of the user's enrolled keys.
    public func decide(file: FactorFile, authInfo: String?, at now: Int64) -> Outcome {
        decide(file: file, authInfo: Self.read(authInfo), at: now)
    }

    /// An `SSH_AUTH_INFO_0` value parsed once (`SSHAuthInfo`), or why there
    /// is nothing to use: `.noAuthInfo` or `.unreadableAuthInfo`.
    public typealias AuthInfo = Result<SSHAuthInfo, NotApplicable>

    /// Parses an `SSH_AUTH_INFO_0` value (nil when unset) for `decide`; the
    /// module parses it once per login and gives the result to the trusted
    /// device check as well.
    public static func read(_ value: String?) -> AuthInfo {
        guard let value, !value.isEmpty else { return .failure(.noAuthInfo) }
        do { return .success(try SSHAuthInfo(parsing: value)) } catch { return .failure(.unreadableAuthInfo(error)) }
    }

    /// `decide(file:authInfo:at:)` for a value already parsed (`read`).
    public func decide(file: FactorFile, authInfo: AuthInfo, at now: Int64) -> Outcome {
        guard policy.isOn else { return .notApplicable(.policyOff) }
        guard file.has(SecurityKey.self) else { return .notApplicable(.noKeyEnrolled) }
        let info: SSHAuthInfo
        switch authInfo {
        case .success(let parsed): info = parsed
        case .failure(let reason): return .notApplicable(reason)
        }
        let presented = info.methods.compactMap { $0.name == "publickey" ? $0.key : nil }
        guard !presented.isEmpty else { return .notApplicable(.noPublicKey) }

        // Every presented blob against every enrolled key, all compared.
        var match: (index: Int, key: SecurityKey)?
        for (index, factor) in file.factors.enumerated() {
            guard Swift.type(of: factor) == SecurityKey.self, let enrolled = factor as? SecurityKey else { continue }
            var matched = false
            for key in presented where enrolled.key.matches(blob: key.blob) { matched = true }
            if matched && match == nil { match = (index, enrolled) }
        }
        if let match {
            var key = match.key
            key.lastUsed = now
            var updated = file
            updated.factors[match.index] = key
            return .accepted(keyID: key.id, file: updated)
        }
        let securityKeys = info.securityKeys
        guard !securityKeys.isEmpty else { return .notApplicable(.notASecurityKey(types: presented.map(\.type))) }
        return .notApplicable(.notEnrolled(fingerprints: securityKeys.map(\.fingerprint)))
    }
}
