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
    case sendLimit, sendWindow, exemptRhost, prompt, debug, forwardPass, socketDir, sendCountDir, securityKeys
    // The pam.d line only: which file to read.
    case config
    // The pam.d line only: the step-up of SPEC §12 (a key in twostep.conf
    // would reach sshd's line too).
    case recent, recentFactor, rememberSession
    // twostep.conf only: twostepd (§8) and fleet mode (§9).
    case selfEnroll, backend, database, databasePasswordFile, databaseTimeout, offline, offlineMaxAge
    // twostep.conf only: who may enrol security keys (§11).
    case securityKeyEnrol

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
        case .sendCountDir: "send_count_dir"
        case .securityKeys: "security_keys"
        case .config: "config"
        case .recent: "recent"
        case .recentFactor: "recent_factor"
        case .rememberSession: "remember_session"
        case .selfEnroll: "self_enroll"
        case .backend: "backend"
        case .database: "database"
        case .databasePasswordFile: "database_password_file"
        case .databaseTimeout: "database_timeout"
        case .offline: "offline"
        case .offlineMaxAge: "offline_max_age"
        case .securityKeyEnrol: "security_key_enrol"
        }
    }

    /// The name as a `String` (for messages).
    public var text: String { name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    /// Takes `yes` or `no`; on a pam.d line the bare name is `yes`.
    public var isYesNo: Bool {
        switch self {
        case .nullok, .debug, .forwardPass, .selfEnroll, .rememberSession: true
        default: false
        }
    }

    /// True when the key may be written at `place`.
    public func isAllowed(in place: Place) -> Bool {
        switch self {
        case .config, .recent, .recentFactor, .rememberSession: place == .moduleLine
        case .selfEnroll, .backend, .database, .databasePasswordFile, .databaseTimeout, .offline, .offlineMaxAge,
             .securityKeyEnrol:
            place == .file
        default: true
        }
    }

    /// The key named `bytes` (exact, case-sensitive), nil for an unknown
    /// name. The length and one byte pick the only key it can be (the
    /// first byte, or the second or third where names of one length share
    /// it), then one byte compare: no `String` is made and no table is
    /// scanned, so a file line costs a few dozen instructions.
    public init?(name bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        guard n >= 5 else { return nil }
        let key: ConfigurationKey?
        switch (n, bytes[n == 10 ? 1 : n == 11 ? 2 : 0]) {
        case (5, UInt8(ascii: "s")): key = .store
        case (5, UInt8(ascii: "d")): key = .debug
        case (6, UInt8(ascii: "n")): key = .nullok
        case (6, UInt8(ascii: "w")): key = .window
        case (6, UInt8(ascii: "p")): key = .prompt
        case (6, UInt8(ascii: "c")): key = .config
        case (6, UInt8(ascii: "r")): key = .recent
        case (7, UInt8(ascii: "l")): key = .lockout
        case (7, UInt8(ascii: "b")): key = .backend
        case (7, UInt8(ascii: "o")): key = .offline
        case (8, UInt8(ascii: "t")): key = .trustBy
        case (8, UInt8(ascii: "c")): key = .channels
        case (8, UInt8(ascii: "d")): key = .database
        case (10, UInt8(ascii: "r")): key = .trustDays    // tRust_days
        case (10, UInt8(ascii: "e")): key = .sendLimit    // sEnd_limit
        case (10, UInt8(ascii: "o")): key = .socketDir    // sOcket_dir
        case (11, UInt8(ascii: "n")): key = .sendWindow   // seNd_window
        case (11, UInt8(ascii: "l")): key = .selfEnroll   // seLf_enroll
        case (12, UInt8(ascii: "m")): key = .maxFailures
        case (12, UInt8(ascii: "e")): key = .exemptRhost
        case (12, UInt8(ascii: "f")): key = .forwardPass
        case (13, UInt8(ascii: "s")): key = .securityKeys
        case (13, UInt8(ascii: "r")): key = .recentFactor
        case (14, UInt8(ascii: "s")): key = .sendCountDir
        case (15, UInt8(ascii: "o")): key = .offlineMaxAge
        case (16, UInt8(ascii: "d")): key = .databaseTimeout
        case (16, UInt8(ascii: "r")): key = .rememberSession
        case (18, UInt8(ascii: "s")): key = .securityKeyEnrol
        case (22, UInt8(ascii: "d")): key = .databasePasswordFile
        default: key = nil
        }
        guard let key, key.matches(bytes) else { return nil }
        self = key
    }

    /// True when `bytes` (of this key's length) are this key's name.
    private func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        name.withUTF8Buffer { name in
            name.count == bytes.count && memcmp(name.baseAddress!, bytes.baseAddress!, name.count) == 0
        }
    }

    /// The key named `name`, nil for an unknown name.
    public init?(name: String) {
        var name = name
        guard let key = name.withUTF8({ ConfigurationKey(name: $0) }) else { return nil }
        self = key
    }

    /// This key's bit in a set of keys kept as a bit mask (keys seen so far;
    /// at most 32 keys).
    var bit: UInt32 { 1 << UInt32(rawValue) }
}
