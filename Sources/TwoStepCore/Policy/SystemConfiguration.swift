/// The system configuration, /etc/twostep/twostep.conf (SPEC §7): read by
/// the module on every login, by `twostep` on every command and by
/// twostepd, so that an administrator says once where the store is and
/// what the policy is.
///
/// The format (twostep.conf(5)):
/// - UTF-8 text, one `key=value` per line, lines ended by a newline (the
///   last one may lack it);
/// - blank lines, and lines whose first non-blank character is `#`, are
///   ignored (a `#` anywhere else is part of the value);
/// - spaces and tabs around the key and around the value are dropped; a
///   value written in double quotes keeps its spaces (`prompt="Code: "`),
///   the quotes themselves are dropped;
/// - the keys are the module options (`ConfigurationKey`, the same names
///   and values as on a pam.d line; yes/no options are `nullok=yes`) and
///   the keys of twostepd and fleet mode below;
/// - a line without `=`, an unknown key, a key given twice, a bad value, a
///   control character or a byte sequence that is not UTF-8 (outside a
///   comment: comments are not read) is an error naming the file and the
///   line (`ConfigurationError.invalidLine`).
///
/// Parsing is pure; `ConfigurationFile.load` (TwoStepStore) reads the file
/// safely. The parser works on the file's bytes: a `String` is made only
/// for a value that is kept as one.
public struct SystemConfiguration: Sendable, Equatable {
    /// Where twostepd keeps the records (`backend=`).
    public enum Backend: String, Sendable, Equatable {
        /// Files, one per user (`store=`), SPEC §8.
        case file
        /// A PostgreSQL database (`database=`), SPEC §9.
        case postgresql
    }

    /// What twostepd does when the database cannot be reached in time (`offline=`).
    public enum OfflinePolicy: String, Sendable, Equatable {
        /// Deny the login.
        case deny
        /// Decide from the last copy of the user's record, if it is younger
        /// than `offlineMaxAge` (authenticator codes only).
        case cached
    }

    /// Who may enrol a security key (`security_key_enrol=`, SPEC §11).
    /// Removing one's own key is always allowed: it only takes a way in away.
    public enum SecurityKeyEnrol: String, Sendable, Equatable {
        /// Users enrol their own keys (after a code, as for any change).
        case user
        /// Only root enrols keys (`twostep add key --user NAME`).
        case root

        /// True when a key may be enrolled by a caller who is
        /// (`administrator`) or is not root.
        public func allows(administrator: Bool) -> Bool { self == .user || administrator }
    }

    /// The path the module, the CLI and twostepd read by default.
    public static let defaultPath = "/etc/twostep/twostep.conf"

    /// The module options (`store=`, `window=`, … `socket_dir=`); a pam.d
    /// line's options override them for that line (`ModuleOptions(arguments:base:)`).
    public var options = ModuleOptions()
    /// Whether a user with no record may enrol through twostepd (`self_enroll=`).
    public var selfEnroll = true
    /// `backend=`; `.postgresql` needs `database`.
    public var backend = Backend.file
    /// `database=`: a `postgresql://` or `postgres://` connection URI, never
    /// holding a password (that is in `databasePasswordFile`).
    public var database: String?
    /// `database_password_file=`: an absolute path.
    public var databasePasswordFile: String?
    /// `database_timeout=`: seconds, 1 to 60.
    public var databaseTimeout = 2
    /// `offline=`.
    public var offline = OfflinePolicy.deny
    /// `offline_max_age=`: seconds, 1 to 2592000 (30 days).
    public var offlineMaxAge: Int64 = 86_400
    /// `security_key_enrol=`: whether users may enrol their own security
    /// keys (the module never enrols, so this is a key of this file only).
    public var securityKeyEnrol = SecurityKeyEnrol.user

    /// With backend=postgresql, what `DatabaseURI.transportWarning` says of
    /// `database=`; nil otherwise, and for a URI that does not parse
    /// (twostepd refuses that one at start).
    public var databaseWarning: String? {
        guard backend == .postgresql, let database, let uri = try? DatabaseURI(database) else { return nil }
        return uri.transportWarning
    }

    public static let databaseTimeoutRange = 1...60
    public static let offlineMaxAgeRange = 1...2_592_000

    /// The built-in defaults (what a missing file means).
    public init() {}

    /// Parses the file's bytes; `path` is only for the errors.
    public init(parsing bytes: [UInt8], path: String) throws(ConfigurationError) {
        // No Result here: a generic type with a constrained parameter costs
        // the module a runtime conformance search on first use.
        var failure: ConfigurationError?
        var parsed = SystemConfiguration()
        bytes.withUnsafeBufferPointer { buffer in
            do throws(ConfigurationError) {
                parsed = try SystemConfiguration(parsing: buffer, path: path)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        self = parsed
    }

    /// Parses the file's bytes; `path` is only for the errors.
    public init(parsing bytes: some Collection<UInt8>, path: String) throws(ConfigurationError) {
        self = try SystemConfiguration(parsing: Array(bytes), path: path)
    }

    /// Parses the file's bytes; `path` is only for the errors.
    public init(parsing bytes: UnsafeBufferPointer<UInt8>, path: String) throws(ConfigurationError) {
        self.init()
        var seen: UInt32 = 0
        // For the check across keys (and no array to remember every key's
        // line: "given twice" looks for the first one again).
        var backendLine = 0
        var start = 0
        var number = 0
        while start < bytes.count {
            let end = ByteScan.firstIndex(of: 10, in: bytes, from: start)
            number += 1
            defer { start = end + 1 }
            func error(_ reason: String) -> ConfigurationError { .invalidLine(path: path, line: number, reason: reason) }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
            let trimmed = Self.trim(line, 0..<line.count)
            // Comments are skipped unread (most of a shipped file).
            if trimmed.isEmpty || line[trimmed.lowerBound] == UInt8(ascii: "#") { continue }
            if let reason = Self.textProblem(line) { throw error(reason) }
            let eq = ByteScan.firstIndex(of: UInt8(ascii: "="), in: line, from: trimmed.lowerBound, to: trimmed.upperBound)
            let keyRange = Self.trim(line, trimmed.lowerBound..<eq)
            let name = UnsafeBufferPointer(rebasing: line[keyRange])
            guard eq < trimmed.upperBound else {
                if let key = ConfigurationKey(name: name), key.isYesNo, key.isAllowed(in: .file) {
                    throw error("'\(key.text)' needs a value: \(key.text)=yes or \(key.text)=no")
                }
                throw error("no '=' (lines are key=value)")
            }
            guard !keyRange.isEmpty else { throw error("no key before '='") }
            guard let key = ConfigurationKey(name: name) else { throw error("unknown key '\(OptionValue.text(name))'") }
            guard key.isAllowed(in: .file) else { throw error("'\(key.text)' is a pam.d option, not a key of this file") }
            guard seen & key.bit == 0 else {
                throw error("key '\(key.text)' is given twice (first on line \(Self.firstLine(of: key, in: bytes)))")
            }
            seen |= key.bit
            if key == .backend { backendLine = number }
            var valueRange = Self.trim(line, (eq + 1)..<trimmed.upperBound)
            if !valueRange.isEmpty, line[valueRange.lowerBound] == UInt8(ascii: "\"") {
                guard valueRange.count >= 2, line[valueRange.upperBound - 1] == UInt8(ascii: "\"") else {
                    throw error("the value of '\(key.text)' starts with '\"' but does not end with one")
                }
                valueRange = (valueRange.lowerBound + 1)..<(valueRange.upperBound - 1)
            }
            do throws(TwoStepError) {
                try set(key, UnsafeBufferPointer(rebasing: line[valueRange]))
            } catch {
                throw ConfigurationError.invalidLine(path: path, line: number, reason: error.description)
            }
        }
        if backend == .postgresql && database == nil {
            throw .invalidLine(path: path, line: backendLine,
                               reason: "backend=postgresql needs database=URI")
        }
        // The module and the CLI would otherwise read files twostepd never writes.
        if backend == .postgresql && !options.store.isDaemon {
            throw .invalidLine(path: path, line: backendLine,
                               reason: "backend=postgresql needs store=twostepd (the records are in the database, not in files)")
        }
    }

    /// The number of the first line that sets `key` (for an error: a line
    /// before the one that sets it again).
    static func firstLine(of key: ConfigurationKey, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var start = 0, number = 0
        while start < bytes.count {
            let end = ByteScan.firstIndex(of: 10, in: bytes, from: start)
            number += 1
            let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
            let eq = ByteScan.firstIndex(of: UInt8(ascii: "="), in: line, from: 0)
            if eq < line.count, ConfigurationKey(name: UnsafeBufferPointer(rebasing: line[trim(line, 0..<eq)])) == key { return number }
            start = end + 1
        }
        return 0
    }

    /// Applies one key of the file: module options go to `options`
    /// (`ModuleOptions.set`), the others are this type's.
    mutating func set(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>) throws(TwoStepError) {
        switch key {
        case .selfEnroll: selfEnroll = try OptionValue.yesNo(key, value)
        case .backend: backend = try OptionValue.choice(key, value, "file", "postgresql") == 0 ? .file : .postgresql
        case .database: database = try Self.databaseURI(value)
        case .databasePasswordFile: databasePasswordFile = try OptionValue.absolutePath(key, value, what: "file")
        case .databaseTimeout: databaseTimeout = try OptionValue.number(key, value, in: Self.databaseTimeoutRange)
        case .offline: offline = try OptionValue.choice(key, value, "deny", "cached") == 0 ? .deny : .cached
        case .offlineMaxAge: offlineMaxAge = Int64(try OptionValue.number(key, value, in: Self.offlineMaxAgeRange))
        case .securityKeyEnrol: securityKeyEnrol = try OptionValue.choice(key, value, "user", "root") == 0 ? .user : .root
        default: try options.set(key, value)
        }
    }

    /// A PostgreSQL connection URI (`postgresql://[user@]host[:port][/db][?param=value&…]`):
    /// the scheme, printable ASCII without spaces, and no password, neither
    /// in the user part (`user:password@`) nor as a `password=` parameter:
    /// the password belongs in `database_password_file=`, which only root
    /// reads, not in a file every user may read. The value is never
    /// repeated in an error (it might hold a password).
    static func databaseURI(_ value: UnsafeBufferPointer<UInt8>) throws(TwoStepError) -> String {
        var start = 0
        for scheme: StaticString in ["postgresql://", "postgres://"] {
            let n = scheme.utf8CodeUnitCount
            if value.count >= n, scheme.withUTF8Buffer({ value[..<n].elementsEqual($0) }) {
                start = n
                break
            }
        }
        guard start > 0 else { throw .invalidParameter("database must be a postgresql:// or postgres:// URI") }
        guard start < value.count, value.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw .invalidParameter("database must be a postgresql:// URI of printable characters without spaces")
        }
        let noPassword = TwoStepError.invalidParameter(
            "database must not hold a password: put it in the file named by database_password_file=")
        let slash = UInt8(ascii: "/"), question = UInt8(ascii: "?")
        // The authority, up to the path or the query: a ':' before its last
        // '@' separates a user from a password.
        var end = start
        while end < value.count, value[end] != slash, value[end] != question { end += 1 }
        var at = end
        while at > start, value[at - 1] != UInt8(ascii: "@") { at -= 1 }
        for i in start..<max(start, at - 1) where value[i] == UInt8(ascii: ":") { throw noPassword }
        // The query, everything after the first '?' (libpq knows no
        // fragment): no parameter may be `password`, in any case and
        // percent-encoded or not (libpq decodes the names).
        var p = start
        while p < value.count, value[p] != question { p += 1 }
        p += 1
        while p < value.count {
            var e = p
            while e < value.count, value[e] != UInt8(ascii: "&") { e += 1 }
            var n = p
            while n < e, value[n] != UInt8(ascii: "=") { n += 1 }
            if Self.isPasswordParameter(UnsafeBufferPointer(rebasing: value[p..<n])) { throw noPassword }
            p = e + 1
        }
        return OptionValue.text(value)
    }

    /// True when `name`, its `%XX` escapes decoded, is `password` in any case.
    static func isPasswordParameter(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let word: StaticString = "password"
        var i = 0, k = 0
        while i < name.count {
            var b = name[i]
            if b == UInt8(ascii: "%"), i + 2 < name.count, let high = Hex.value(name[i + 1]), let low = Hex.value(name[i + 2]) {
                b = high << 4 | low
                i += 2
            }
            guard k < word.utf8CodeUnitCount, b | 0x20 == word.utf8Start[k] else { return false }
            i += 1
            k += 1
        }
        return k == word.utf8CodeUnitCount
    }

    /// Why `line` is not a line of text: a control character other than a
    /// tab, or bytes that are not UTF-8. Nil when it is fine.
    static func textProblem(_ line: UnsafeBufferPointer<UInt8>) -> String? {
        if ByteScan.isPrintableASCII(line) { return nil }
        var ascii = true
        for b in line {
            if b == 13 { return "a carriage return (the file has DOS line endings?)" }
            if (b < 0x20 && b != 9) || b == 0x7f { return "a control character (byte \(b))" }
            if b >= 0x80 { ascii = false }
        }
        if !ascii && String(validating: line, as: UTF8.self) == nil { return "not UTF-8 text" }
        return nil
    }

    /// `range` without the spaces and tabs at either end.
    static func trim(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, line[lower] == 32 || line[lower] == 9 { lower += 1 }
        while upper > lower, line[upper - 1] == 32 || line[upper - 1] == 9 { upper -= 1 }
        return lower..<upper
    }
}
