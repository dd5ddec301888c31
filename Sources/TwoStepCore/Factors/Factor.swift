/// One way for a user to prove it is them: an authenticator app, a backup
/// code, a code sent to a phone.
///
/// Each kind of factor is one type conforming to this protocol and one line
/// keyword in the factor file; the parser, the writer, the verifier and the
/// listings work through the protocol only, so adding a kind means adding a
/// type and registering it in `FactorFile.kinds`.
public protocol Factor: Sendable {
    /// The line keyword, e.g. `totp`.
    static var keyword: String { get }
    /// The prefix of generated ids, e.g. `totp` → `totp-1`.
    static var idPrefix: String { get }
    /// False for state that is no way in by itself (a code sent to a
    /// phone): a file with only such factors has two-step verification off.
    static var isMethod: Bool { get }

    /// Reads the factor from its line; throws `malformedFile` on any problem.
    init(from reader: inout FactorLineReader) throws(TwoStepError)
    /// Reads the factor from its line, appends it to `factors` and returns
    /// its id. The parser calls this through `FactorFile.kinds`: the value
    /// is boxed once, straight into the array (the default implementation
    /// does this; there is no need to write another).
    static func read(from reader: inout FactorLineReader, appendingTo factors: inout [any Factor]) throws(TwoStepError) -> String
    /// Writes the factor's fields (the keyword is written by the caller).
    func write(to line: inout FactorLine)

    /// A stable identifier, unique within the file.
    var id: String { get }
    /// How the factor is described in listings and to the user.
    var summary: FactorSummary { get }

    /// Checks `answer` against this factor at `context.now`.
    ///
    /// Implementations do the same work whether or not the answer matches
    /// (no early exit on the secret), compare in constant time, and never
    /// keep the answer.
    func check(_ answer: String, context: VerificationContext) -> FactorCheck

    /// True when `other` is this factor in the same state (its line would
    /// be the same). Secrets compare in constant time.
    func isSame(as other: any Factor) -> Bool
}

extension Factor where Self: Equatable {
    public func isSame(as other: any Factor) -> Bool {
        guard type(of: other) == Self.self, let other = other as? Self else { return false }
        return other == self
    }
}

extension Factor {
    public static var isMethod: Bool { true }

    public static func read(from reader: inout FactorLineReader, appendingTo factors: inout [any Factor]) throws(TwoStepError) -> String {
        let factor = try Self(from: &reader)
        factors.append(factor)
        return factor.id
    }
}

/// What a factor made of an answer.
public enum FactorCheck: Sendable {
    /// Not this factor's code.
    case noMatch
    /// A code this factor accepted before and will not accept again (replay).
    case replayed
    /// Accepted. `replacement` is the factor's new state (e.g. the last time
    /// step used), or nil when the factor is spent (a backup code).
    case accepted(replacement: (any Factor)?)
}

/// What the verifier needs to know besides the file and the answer.
public struct VerificationContext: Sendable {
    /// The time now, Unix seconds.
    public var now: Int64
    /// Accept TOTP codes this many time steps before and after now.
    public var window: Int

    public init(now: Int64, window: Int) {
        self.now = now
        self.window = window
    }
}

/// The kinds of method, for listings ("authenticator app", "backup codes")
/// and logs.
public enum FactorKind: String, Sendable, Equatable, CaseIterable {
    case authenticator
    case backupCode = "backup-code"
    case phone
    case pendingCode = "pending-code"
    /// An enrolled OpenSSH FIDO key (`SecurityKey`): counts at an SSH login
    /// that used it, never for a typed answer.
    case securityKey = "security-key"
}

/// A factor as listed to the user: never contains a secret.
public struct FactorSummary: Sendable, Equatable {
    public var kind: FactorKind
    public var id: String
    /// Human text, e.g. `authenticator "Phone" (SHA1, 6 digits, 30 s)`.
    public var description: String
    /// Creation time, Unix seconds, when known.
    public var created: Int64?

    public init(kind: FactorKind, id: String, description: String, created: Int64? = nil) {
        self.kind = kind
        self.id = id
        self.description = description
        self.created = created
    }
}
