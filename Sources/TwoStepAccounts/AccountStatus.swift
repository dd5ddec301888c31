import TwoStepCore

/// What is set up for a user and the state of their verification, as
/// `twostep status` shows it and `--json` prints it. Holds no secret and
/// no hash: numbers are masked, authenticators are named by id and label.
public struct AccountStatus: Codable, Sendable, Equatable {
    public var user: String
    public var path: String
    /// The record exists (it may still hold no method: then `enabled` is false).
    public var exists: Bool
    public var enabled: Bool
    public var authenticators: [Authenticator]
    public var phones: [PhoneEntry]
    /// The enrolled security keys (SPEC §11).
    public var securityKeys: [SecurityKeyEntry]
    public var backupCodesLeft: Int
    public var trustedDevices: [Device]
    public var failures: Int
    public var lockedUntil: Int64?
    /// When a code was last accepted (Unix seconds); nil before the first.
    public var lastAccepted: Int64?

    public struct Authenticator: Codable, Sendable, Equatable {
        public var id: String
        public var label: String
        public var algorithm: String
        public var digits: Int
        public var period: Int
        public var created: Int64
    }

    /// A phone, with its number masked (`+966 ••• ••34`).
    public struct PhoneEntry: Codable, Sendable, Equatable {
        public var id: String
        public var channel: String
        public var number: String
        public var label: String
        public var created: Int64
    }

    /// A security key: its type as OpenSSH names it, its fingerprint as
    /// `ssh-keygen -l` prints it (`SHA256:…`), never the key itself.
    public struct SecurityKeyEntry: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var fingerprint: String
        public var label: String
        public var created: Int64
        /// When a login last counted the key (Unix seconds); nil before the first.
        public var lastUsed: Int64?

        /// Every key always (`lastUsed` as `null` before the first use), so
        /// that `status --json` has the same keys for every security key.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            for (key, text) in [(CodingKeys.id, id), (.type, type), (.fingerprint, fingerprint), (.label, label)] {
                try c.encode(text, forKey: key)
            }
            try c.encode(created, forKey: .created)
            try c.encode(lastUsed, forKey: .lastUsed)
        }
    }

    public struct Device: Codable, Sendable, Equatable {
        public var id: String
        public var service: String
        public var rhost: String?
        public var key: String?
        public var created: Int64
        public var expires: Int64
    }

    /// The status of `file` at `now`, with the lock-out `verifier`'s policy gives.
    public init(_ file: FactorFile?, user: String, path: String, verifier: Verifier, now: Int64) {
        self.user = user
        self.path = path
        exists = file != nil
        let file = file ?? FactorFile()
        enabled = file.isEnabled
        authenticators = file.authenticators.map {
            Authenticator(id: $0.id, label: $0.label, algorithm: $0.parameters.algorithm.rawValue,
                          digits: $0.parameters.digits, period: $0.parameters.period, created: $0.created)
        }
        phones = file.phones.map {
            PhoneEntry(id: $0.id, channel: $0.channel.rawValue, number: $0.number.masked, label: $0.label, created: $0.created)
        }
        securityKeys = file.securityKeys.map {
            SecurityKeyEntry(id: $0.id, type: $0.type.rawValue, fingerprint: $0.fingerprint, label: $0.label,
                             created: $0.created, lastUsed: $0.lastUsed)
        }
        backupCodesLeft = file.backupCodes.count
        trustedDevices = file.trustedDevices.map {
            Device(id: $0.id, service: $0.service, rhost: $0.remoteHost, key: $0.keyFingerprint,
                   created: $0.created, expires: $0.expires)
        }
        failures = file.failures.count
        lockedUntil = verifier.lockout(in: file, at: now)
        lastAccepted = file.failures.lastAccepted
    }
}

extension AccountStatus {
    /// Decodes a status as twostepd sends it; one from a twostepd older
    /// than security keys (no `securityKeys`) has none, so that a newer CLI
    /// still reads it during an upgrade.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decode(String.self, forKey: .user)
        path = try c.decode(String.self, forKey: .path)
        exists = try c.decode(Bool.self, forKey: .exists)
        enabled = try c.decode(Bool.self, forKey: .enabled)
        authenticators = try c.decode([Authenticator].self, forKey: .authenticators)
        phones = try c.decode([PhoneEntry].self, forKey: .phones)
        securityKeys = try c.decodeIfPresent([SecurityKeyEntry].self, forKey: .securityKeys) ?? []
        backupCodesLeft = try c.decode(Int.self, forKey: .backupCodesLeft)
        trustedDevices = try c.decode([Device].self, forKey: .trustedDevices)
        failures = try c.decode(Int.self, forKey: .failures)
        lockedUntil = try c.decodeIfPresent(Int64.self, forKey: .lockedUntil)
        lastAccepted = try c.decodeIfPresent(Int64.self, forKey: .lastAccepted)
    }
}
