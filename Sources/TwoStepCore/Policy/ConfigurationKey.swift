#if canImport(Glibc)
import Glibc
#endif

/// Every name the configuration knows, in one table: the module options of
/// the pam.d line (SPEC §3) and the keys of twostep.conf (SPEC §7) are the
/// same names with the same values, so `window=2` means the same in both
/// places. `ModuleOptions.set` and `SystemConfiguration` apply them.
///
/// A yes/no key (`isYesNo`) is written `nullok=yes` or `nullok=no`; on a
/// pam.d line the bare name (`nullok`) means yes. In the file every line
/// has `=`.
public enum ConfigurationKey: UInt8, Sendable, CaseIterable {
    // Module options: the pam.d line and twostep.conf.
    case store, nullok, window, trustDays, trustBy, maxFailures, lockout, channels
    case sendLimit, sendWindow, exemptRhost, prompt, debug, forwardPass, socketDir
    // The pam.d line only: which file to read.
    case config
    // twostep.conf only: twostepd (§8) and fleet mode (§9).
    case selfEnroll, backend, database, databasePasswordFile, databaseTimeout, offline, offlineMaxAge

    /// Where a key may be written.
    public enum Place: Sendable {
        /// An argument on a pam.d line.
        case moduleLine
        /// A line of twostep.conf.
        case file
    }

    /// The key as written.
    public var name: StaticString {
        switch self {
        case .store: "store"
        case .nullok: "nullok"
        case .window: "window"
        case .trustDays: "trust_days"
        case .trustBy: "trust_by"
        case .maxFailures: "max_failures"
        case .lockout: "lockout"
        case .channels: "channels"
        case .sendLimit: "send_limit"
        case .sendWindow: "send_window"
        case .exemptRhost: "exempt_rhost"
        case .prompt: "prompt"
        case .debug: "debug"
        case .forwardPass: "forward_pass"
        case .socketDir: "socket_dir"
        case .config: "config"
        case .selfEnroll: "self_enroll"
        case .backend: "backend"
        case .database: "database"
        case .databasePasswordFile: "database_password_file"
        case .databaseTimeout: "database_timeout"
        case .offline: "offline"
        case .offlineMaxAge: "offline_max_age"
        }
    }

    /// The name as a `String` (for messages).
    public var text: String { name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    /// Takes `yes` or `no`; on a pam.d line the bare name is `yes`.
    public var isYesNo: Bool {
        switch self {
        case .nullok, .debug, .forwardPass, .selfEnroll: true
        default: false
        }
    }

    /// True when the key may be written at `place`.
    public func isAllowed(in place: Place) -> Bool {
        switch self {
        case .config: place == .moduleLine
        case .selfEnroll, .backend, .database, .databasePasswordFile, .databaseTimeout, .offline, .offlineMaxAge: place == .file
        default: true
        }
    }

    /// The key named `bytes` (exact, case-sensitive), nil for an unknown
    /// name. A byte compare against each name of the same length: no
    /// `String` is made.
    public init?(name bytes: UnsafeBufferPointer<UInt8>) {
        var raw: UInt8 = 0
        while let key = ConfigurationKey(rawValue: raw) {
            let match = key.name.withUTF8Buffer { name in
                name.count == bytes.count && (name.isEmpty || memcmp(name.baseAddress!, bytes.baseAddress!, name.count) == 0)
            }
            if match {
                self = key
                return
            }
            raw += 1
        }
        return nil
    }

    /// The key named `name`, nil for an unknown name.
    public init?(name: String) {
        var name = name
        guard let key = name.withUTF8({ ConfigurationKey(name: $0) }) else { return nil }
        self = key
    }

    /// How many keys there are (the last case's raw value + 1; `allCases`
    /// would make an array).
    static var count: Int { Int(ConfigurationKey.offlineMaxAge.rawValue) + 1 }

    /// This key's bit in a set of keys kept as a bit mask (keys seen so far).
    var bit: UInt32 { 1 << UInt32(rawValue) }
}
