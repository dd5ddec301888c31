/// Which second step a login passed, as a session note and a session
/// record remember it (SPEC §12): a code (any kind that is typed) or an
/// enrolled security key.
public enum SessionFactor: String, Sendable, Equatable {
    case authenticator
    case backupCode = "backup-code"
    case phone
    case securityKey = "security-key"

    /// The factor a verified code came from; nil for kinds that are never
    /// a login's second step.
    public init?(kind: FactorKind) {
        switch kind {
        case .authenticator: self = .authenticator
        case .backupCode: self = .backupCode
        case .phone, .pendingCode: self = .phone
        case .securityKey: self = .securityKey
        }
    }
}

/// Which second step of the login lets sudo through (`recent_factor=`).
public enum RecentFactor: String, Sendable, Equatable {
    /// Any: a code or a security key.
    case any
    /// Only an enrolled security key.
    case securityKey = "security-key"

    /// True when a login that passed `factor` counts.
    public func admits(_ factor: SessionFactor) -> Bool {
        self == .any || factor == .securityKey
    }
}

/// One process, named so that a reused PID does not pass for it: its PID
/// and its start time (clock ticks after boot, /proc/PID/stat's 22nd field).
public struct ProcessStamp: Sendable, Equatable {
    public var pid: Int32
    public var start: UInt64

    public init(pid: Int32, start: UInt64) {
        self.pid = pid
        self.start = start
    }
}
