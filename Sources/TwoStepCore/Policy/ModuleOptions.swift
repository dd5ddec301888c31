/// What identifies a trusted device (`trust_by=`).
public enum TrustBy: String, Sendable, Equatable {
    /// The remote host (PAM_RHOST).
    case rhost
    /// The SSH public key that passed the first step.
    case key
    /// Both must match.
    case both
}

/// The module's options from the pam.d line (SPEC §3), parsed strictly: an
/// unknown or malformed option is an error (the module then denies).
public struct ModuleOptions: Sendable, Equatable {
    public var store = StorePathTemplate.standard
    public var nullok = false
    public var policy = VerificationPolicy.standard
    /// Longest a device may be trusted, days; 0 turns trusted devices off.
    public var trustDays = 30
    /// nil: `both` when a key is known, else `rhost`.
    public var trustBy: TrustBy?
    public var channels = "/usr/lib/twostep/channels"
    /// Codes sent to a user's phones per window (`send_limit=`, `send_window=`).
    public var sendPolicy = SendPolicy.standard
    public var exemptRemoteHosts: [CIDR] = []
    public var debug = false
    public var prompt = "Verification code: "
    public var forwardPass = false

    /// The defaults.
    public init() {}

    /// Parses the arguments libpam passes (`argv` of `pam_sm_authenticate`).
    public init(arguments: [String]) throws(TwoStepError) {
        self.init()
        // A few options at most: an array (a Set would cost a hash table and,
        // in a fresh process, a runtime conformance lookup for String: Hashable).
        var seen = [String]()
        for argument in arguments {
            let (name, value) = Self.split(argument)
            guard !seen.contains(name) else { throw .invalidParameter("option '\(name)' is given twice") }
            seen.append(name)
            switch (name, value) {
            case ("nullok", nil): nullok = true
            case ("debug", nil): debug = true
            case ("forward_pass", nil): forwardPass = true
            case ("store", let v?): store = try StorePathTemplate(v)
            case ("window", let v?): policy.window = try Self.number(name, v, in: 0...10)
            case ("trust_days", let v?): trustDays = try Self.number(name, v, in: 0...3650)
            case ("trust_by", let v?):
                guard let t = TrustBy(rawValue: v) else { throw .invalidParameter("trust_by must be rhost, key or both (got '\(v)')") }
                trustBy = t
            case ("max_failures", let v?): policy.maxFailures = try Self.number(name, v, in: 1...1000)
            case ("lockout", let v?): policy.lockoutSeconds = Int64(try Self.number(name, v, in: 0...604_800))
            case ("channels", let v?):
                guard v.hasPrefix("/") else { throw .invalidParameter("channels must be an absolute directory (got '\(v)')") }
                channels = v
            case ("send_limit", let v?):
                sendPolicy.limit = try Self.number(name, v, in: SendPolicy.limitRange)
            case ("send_window", let v?):
                sendPolicy.window = Int64(try Self.number(name, v, in: SendPolicy.windowRange))
            case ("exempt_rhost", let v?):
                exemptRemoteHosts = try v.split(separator: ",", omittingEmptySubsequences: false).map {
                    (part) throws(TwoStepError) -> CIDR in try CIDR(parsing: String(part))
                }
            case ("prompt", let v?):
                guard !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7f }) else {
                    throw .invalidParameter("prompt must be printable text")
                }
                prompt = v
            default:
                throw .invalidParameter(value == nil && Self.known.contains(name)
                    ? "option '\(name)' needs a value (\(name)=…)"
                    : Self.flags.contains(name) ? "option '\(name)' takes no value" : "unknown option '\(argument)'")
            }
        }
    }

    private static let flags = ["nullok", "debug", "forward_pass"]
    private static let known = ["store", "window", "trust_days", "trust_by", "max_failures", "lockout", "channels", "send_limit", "send_window", "exempt_rhost", "prompt"]

    private static func split(_ argument: String) -> (String, String?) {
        guard let eq = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
    }

    private static func number(_ name: String, _ text: String, in range: ClosedRange<Int>) throws(TwoStepError) -> Int {
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), range.contains(n) else {
            throw .invalidParameter("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return n
    }
}
