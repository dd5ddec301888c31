/// The administrator's settings that shape a verification (module options
/// `window=`, `max_failures=`, `lockout=`).
public struct VerificationPolicy: Sendable, Equatable {
    /// Accept TOTP codes this many time steps before and after now.
    public var window: Int
    /// Wrong codes in a row before the lock-out starts.
    public var maxFailures: Int
    /// Length of the lock-out, seconds.
    public var lockoutSeconds: Int64

    /// The defaults of SPEC §3: window 1, 5 failures, 300 s.
    public static let standard = VerificationPolicy(window: 1, maxFailures: 5, lockoutSeconds: 300)

    public init(window: Int, maxFailures: Int, lockoutSeconds: Int64) {
        self.window = window
        self.maxFailures = maxFailures
        self.lockoutSeconds = lockoutSeconds
    }
}
