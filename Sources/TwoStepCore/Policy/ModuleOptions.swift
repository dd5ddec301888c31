/// What identifies a trusted device (`trust_by=`).
public enum TrustBy: String, Sendable, Equatable {
    /// The remote host (PAM_RHOST).
    case rhost
    /// The SSH public key that passed the first step.
    case key
    /// Both must match.
    case both
}

/// The module's options (SPEC §3), parsed strictly: an unknown or malformed
/// option is an error (the module then denies).
///
/// They come from two places, read with the same names and rules
/// (`ConfigurationKey`, `set`): the system configuration file
/// (`SystemConfiguration.options`, SPEC §7) and the pam.d line, whose
/// arguments override the file's values for that line
/// (`init(arguments:base:)`).
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
    /// Where root counts the codes sent, per account and per number
    /// (`send_count_dir=`, SPEC §5): outside every store directory.
    public var sendCountDirectory = ModuleOptions.defaultSendCountDirectory
    public static let defaultSendCountDirectory = "/var/lib/twostep-sends"
    public var exemptRemoteHosts: [CIDR] = []
    public var debug = false
    public var prompt = "Verification code: "
    public var forwardPass = false
    /// Where twostepd's sockets are (`socket_dir=`, SPEC §9).
    public var socketDirectory = "/run/twostep"
    /// Whether an enrolled security key is the second step of an SSH
    /// login (`security_keys=`, SPEC §11).
    public var securityKeys = SecurityKeyPolicy.off
    /// `recent=` and `recent_factor=` (pam.d line only, SPEC §12): let a
    /// caller whose login session passed the second step lately through.
    public var stepUp = StepUp(seconds: 0, factor: .any)
    /// `remember_session` (pam.d line only, SPEC §12): after an accepted
    /// code or key, leave a note for this login's session stack.
    public var rememberSession = false

    /// The defaults.
    public init() {}

    /// Parses the arguments libpam passes (`argv` of `pam_sm_authenticate`)
    /// over `base` (the configuration file's options): an argument replaces
    /// the base's value of that option (`exempt_rhost=` replaces the whole
    /// list; a bare `nullok`, `debug` or `forward_pass` turns it on — to
    /// have one off for a line, leave it out of the file). An unknown
    /// option, one given twice on the line, a file-only key, a yes/no
    /// option with a value, a missing or malformed value is an error. `config=` is checked
    /// here (absolute, once) but not applied: the caller reads that file
    /// first (`configurationFile(in:)`) and passes its options as `base`.
    public init(arguments: [String], base: ModuleOptions = ModuleOptions()) throws(TwoStepError) {
        self = base
        // A few options at most: a bit mask of the keys seen (a Set would
        // cost a hash table and, in a fresh process, a runtime conformance
        // lookup for String: Hashable).
        var seen: UInt32 = 0
        for argument in arguments {
            var argument = argument
            var failure: TwoStepError?
            argument.withUTF8 { bytes in
                do throws(TwoStepError) {
                    try apply(argument: bytes, seen: &seen)
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
        }
    }

    /// The file named by `config=` among `arguments`, nil when there is
    /// none (then the caller reads the default file). Throws when `config=`
    /// is malformed or given twice; every other argument is left for
    /// `init(arguments:base:)`.
    public static func configurationFile(in arguments: [String]) throws(TwoStepError) -> String? {
        var found: String?
        for argument in arguments {
            var argument = argument
            var failure: TwoStepError?
            argument.withUTF8 { bytes in
                let (name, value) = split(bytes)
                guard ConfigurationKey(name: name) == .config else { return }
                if found != nil {
                    failure = .invalidParameter("option 'config' is given twice")
                } else if let value {
                    do throws(TwoStepError) {
                        found = try OptionValue.absolutePath(.config, value, what: "file")
                    } catch {
                        failure = error
                    }
                } else {
                    failure = .invalidParameter("option 'config' needs a value (config=…)")
                }
            }
            if let failure { throw failure }
        }
        return found
    }

    /// Applies one module option: `value` as twostep.conf writes it
    /// (`window=2`, `nullok=no`), or nil for the bare name of a yes/no
    /// option as a pam.d line writes it (yes). A key of twostep.conf only
    /// (`backend` …) or `config` is an error here.
    public mutating func set(name: String, value: String?) throws(TwoStepError) {
        guard let key = ConfigurationKey(name: name) else { throw .invalidParameter("unknown option '\(name)'") }
        guard key.isAllowed(in: .moduleLine), key != .config else {
            throw key == .config ? .invalidParameter("config= is read before the options: see configurationFile(in:)") : Self.fileOnly(key)
        }
        guard var value else {
            guard key.isYesNo else { throw Self.needsValue(key) }
            try set(key, nil)
            return
        }
        var failure: TwoStepError?
        value.withUTF8 { bytes in
            do throws(TwoStepError) { try set(key, bytes) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Applies one module option, from a pam.d argument or a file line:
    /// the one place that knows what each option's value may be. `value`
    /// nil is a bare yes/no name (the caller has checked the key allows it).
    /// Keys that are not module options (`config`, the file-only keys) are
    /// left alone: their owners apply them.
    mutating func set(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>?) throws(TwoStepError) {
        if key.isYesNo {
            let on = try OptionValue.yesNo(key, value)
            switch key {
            case .nullok: nullok = on
            case .debug: debug = on
            case .forwardPass: forwardPass = on
            case .rememberSession: rememberSession = on
            default: break
            }
            return
        }
        guard let v = value else { throw Self.needsValue(key) }
        switch key {
        case .store: store = try StorePathTemplate(OptionValue.text(v))
        case .window: policy.window = try OptionValue.number(key, v, in: 0...10)
        case .trustDays: trustDays = try OptionValue.number(key, v, in: 0...3650)
        case .trustBy:
            switch try OptionValue.choice(key, v, "rhost", "key", "both") {
            case 0: trustBy = .rhost
            case 1: trustBy = .key
            default: trustBy = .both
            }
        case .maxFailures: policy.maxFailures = try OptionValue.number(key, v, in: 1...1000)
        case .lockout: policy.lockoutSeconds = Int64(try OptionValue.number(key, v, in: 0...604_800))
        case .channels: channels = try OptionValue.absolutePath(key, v, what: "directory")
        case .sendLimit: sendPolicy.limit = try OptionValue.number(key, v, in: SendPolicy.limitRange)
        case .sendWindow: sendPolicy.window = Int64(try OptionValue.number(key, v, in: SendPolicy.windowRange))
        case .exemptRhost:
            exemptRemoteHosts = try OptionValue.text(v).split(separator: ",", omittingEmptySubsequences: false).map {
                (part) throws(TwoStepError) -> CIDR in try CIDR(parsing: String(part))
            }
        case .prompt:
            guard !v.isEmpty, v.allSatisfy({ $0 >= 0x20 && $0 != 0x7f }) else {
                throw .invalidParameter("prompt must be printable text")
            }
            prompt = OptionValue.text(v)
        case .socketDir: socketDirectory = try OptionValue.absolutePath(key, v, what: "directory")
        case .sendCountDir: sendCountDirectory = try OptionValue.absolutePath(key, v, what: "directory")
        case .securityKeys:
            switch try OptionValue.choice(key, v, "off", "touch", "verify") {
            case 0: securityKeys = .off
            case 1: securityKeys = .touch
            default: securityKeys = .verify
            }
        case .recent: stepUp.seconds = try OptionValue.number(key, v, in: StepUp.range)
        case .recentFactor:
            stepUp.factor = try OptionValue.choice(key, v, "any", "security-key") == 0 ? .any : .securityKey
        case .config: _ = try OptionValue.absolutePath(key, v, what: "file")
        default: break
        }
    }

    /// One pam.d argument, `name` or `name=value`.
    private mutating func apply(argument: UnsafeBufferPointer<UInt8>, seen: inout UInt32) throws(TwoStepError) {
        let (name, value) = Self.split(argument)
        guard let key = ConfigurationKey(name: name) else {
            throw .invalidParameter("unknown option '\(OptionValue.text(argument))'")
        }
        guard key.isAllowed(in: .moduleLine) else { throw Self.fileOnly(key) }
        guard seen & key.bit == 0 else { throw .invalidParameter("option '\(key.text)' is given twice") }
        seen |= key.bit
        // On the line a yes/no option is its bare name (SPEC §3); `=yes`
        // and `=no` are the file's form.
        if key.isYesNo, value != nil {
            throw .invalidParameter("option '\(key.text)' takes no value on a pam.d line (\(key.text)=yes|no is for twostep.conf)")
        }
        try set(key, value)
    }

    /// `name` and the value after the first `=` (nil: no `=`).
    private static func split(_ argument: UnsafeBufferPointer<UInt8>) -> (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>?) {
        let eq = ByteScan.firstIndex(of: UInt8(ascii: "="), in: argument, from: 0)
        guard eq < argument.count else { return (argument, nil) }
        return (UnsafeBufferPointer(rebasing: argument[..<eq]), UnsafeBufferPointer(rebasing: argument[(eq + 1)...]))
    }

    private static func needsValue(_ key: ConfigurationKey) -> TwoStepError {
        .invalidParameter("option '\(key.text)' needs a value (\(key.text)=…)")
    }

    private static func fileOnly(_ key: ConfigurationKey) -> TwoStepError {
        .invalidParameter("'\(key.text)' is a key of twostep.conf, not a module option")
    }
}
