/// `database=` (SPEC §9, §13): a libpq connection URI,
/// `postgresql://[user@][host[:port][,host[:port]…]]/dbname[?param=value&…]`,
/// of which twostepd understands the parts a login store needs: user, one
/// or more hosts (each a name, an address — IPv6 in brackets, `[::1]:5432`
/// — or a Unix-socket directory, also as `?host=/run/postgresql` or
/// `?host=h1,h2&port=5432,5433`), their ports, database, `sslmode`,
/// `sslrootcert` and `target_session_attrs`. A password in the URI is
/// refused: it would be in a world-readable file; it goes in
/// `database_password_file=`.
///
/// In TwoStepCore (plain Swift, no I/O) so that twostepd, which connects
/// with it, and the CLI, which reports on it (`transportWarning`), read
/// the URI the same way.
public struct DatabaseURI: Equatable, Sendable {
    /// libpq's `sslmode` values. `prefer` is libpq's default. It applies to
    /// every TCP host on its own (`verify-full` checks each host's name);
    /// a Unix socket has no TLS.
    public enum SSLMode: String, Sendable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// libpq's `target_session_attrs`, of the values a writer can use:
    /// which of the hosts, tried in order, twostepd settles on.
    public enum TargetSessionAttributes: String, Sendable, CaseIterable {
        /// The first host that accepts a connection (libpq's default). A
        /// server that then refuses a write (read-only, SQLSTATE 25006) is
        /// still left for the next host.
        case any
        /// The first host whose sessions accept writes (`SHOW
        /// transaction_read_only` is `off`).
        case readWrite = "read-write"
        /// The first host that is not a standby (`pg_is_in_recovery()` is false).
        case primary
    }

    public var user = "twostep"
    /// The servers, in the order they are tried; never empty.
    public var hosts = [DatabaseHost(name: Self.defaultSocketDirectory)]
    public var database = "twostep"
    public var sslMode = SSLMode.prefer
    public var sslRootCertificate: String?
    public var targetSessionAttributes = TargetSessionAttributes.any

    /// Where libpq looks for the server's socket when no host is named.
    public static let defaultSocketDirectory = "/var/run/postgresql"

    /// Why the connection does not protect the records on the network, nil
    /// when it does: a server on another host reached with an `sslmode`
    /// other than `verify-full` or `verify-ca`, so that whoever sits between
    /// the hosts can read every record (TOTP secrets included) or answer in
    /// the server's place. twostepd logs it at start; `twostep report` and
    /// `twostep setup --status` show it. Names the first such host.
    public var transportWarning: String? {
        guard sslMode != .verifyFull, sslMode != .verifyCA, let remote = hosts.first(where: { !$0.isLocal }) else { return nil }
        return "database=: the server \(remote.name) is not on this host and sslmode=\(sslMode.rawValue) does not check its certificate: "
            + "anyone on the network between can read the records (TOTP secrets included) or answer as the server; "
            + "use sslmode=verify-full (with sslrootcert=)"
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "database=: \(reason)" }
    }

    public init(_ text: String) throws(Invalid) {
        var rest: Substring
        if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else {
            throw Invalid(reason: "not a postgresql:// URI")
        }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            guard !userInfo.contains(":") else {
                throw Invalid(reason: "a password in the URI is refused (everyone can read twostep.conf); put it in database_password_file=")
            }
            user = try Self.decode(userInfo)
            rest = rest[rest.index(after: at)...]
        }
        var names: [String] = [], ports: [String] = []
        if !rest.isEmpty {
            for spec in try Self.hostSpecs(rest) {
                let (name, port) = try Self.split(spec)
                names.append(try Self.decode(name))
                ports.append(String(port))
            }
        }
        if !path.isEmpty { database = try Self.decode(path) }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = try Self.decode(parts.count == 2 ? parts[1] : "")
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else { throw Invalid(reason: "sslmode=\(value) is not one of disable, allow, prefer, require, verify-ca, verify-full") }
                sslMode = mode
            case "sslrootcert": sslRootCertificate = value
            case "host": names = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            case "port": ports = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            case "target_session_attrs":
                guard let attributes = TargetSessionAttributes(rawValue: value) else {
                    throw Invalid(reason: "target_session_attrs=\(value) is not one of any, read-write, primary (twostepd writes)")
                }
                targetSessionAttributes = attributes
            case "user": user = value
            case "dbname": database = value
            case "password": throw Invalid(reason: "a password in the URI is refused; put it in database_password_file=")
            case "connect_timeout", "application_name": break
            default: throw Invalid(reason: "unknown parameter '\(key)'")
            }
        }
        hosts = try Self.hosts(names: names, ports: ports)
        guard !user.isEmpty, !database.isEmpty else { throw Invalid(reason: "empty user or database") }
    }

    /// The comma-separated host specifications of the URI's authority; a
    /// comma inside an IPv6 address's brackets is not a separator.
    private static func hostSpecs(_ text: Substring) throws(Invalid) -> [Substring] {
        var specs: [Substring] = []
        var start = text.startIndex, inBrackets = false
        for i in text.indices {
            switch text[i] {
            case "[":
                guard !inBrackets else { throw Invalid(reason: "bad host list") }
                inBrackets = true
            case "]":
                guard inBrackets else { throw Invalid(reason: "bad host list") }
                inBrackets = false
            case "," where !inBrackets:
                specs.append(text[start..<i])
                start = text.index(after: i)
            default: break
            }
        }
        guard !inBrackets else { throw Invalid(reason: "an IPv6 address without its closing bracket") }
        specs.append(text[start...])
        return specs
    }

    /// `host[:port]` or `[address][:port]`: the host (brackets removed)
    /// and the port's text (empty: the default).
    private static func split(_ spec: Substring) throws(Invalid) -> (Substring, Substring) {
        if spec.hasPrefix("[") {
            guard let close = spec.firstIndex(of: "]") else { throw Invalid(reason: "an IPv6 address without its closing bracket") }
            let address = spec[spec.index(after: spec.startIndex)..<close]
            let after = spec[spec.index(after: close)...]
            guard !address.isEmpty else { throw Invalid(reason: "an empty IPv6 address") }
            if after.isEmpty { return (address, "") }
            guard after.hasPrefix(":") else { throw Invalid(reason: "bad text after an IPv6 address") }
            return (address, after.dropFirst())
        }
        guard let colon = spec.lastIndex(of: ":") else { return (spec, "") }
        return (spec[..<colon], spec[spec.index(after: colon)...])
    }

    /// The hosts, each with its port: one port for all, or one per host
    /// (libpq's rule); an empty name is the default socket directory, an
    /// empty port 5432.
    private static func hosts(names: [String], ports: [String]) throws(Invalid) -> [DatabaseHost] {
        let names = names.isEmpty ? [""] : names
        guard ports.count <= 1 || ports.count == names.count else {
            throw Invalid(reason: "\(ports.count) ports for \(names.count) hosts (give one port, or one per host)")
        }
        var hosts: [DatabaseHost] = []
        for (i, name) in names.enumerated() {
            let text = ports.isEmpty ? "" : ports[ports.count == 1 ? 0 : i]
            var port = 5432
            if !text.isEmpty {
                guard let p = Int(text), (1...65535).contains(p) else { throw Invalid(reason: "bad port") }
                port = p
            }
            guard !name.contains(where: { $0 == "," || $0 == "[" || $0 == "]" }) else { throw Invalid(reason: "bad host name") }
            hosts.append(DatabaseHost(name: name.isEmpty ? defaultSocketDirectory : name, port: port))
        }
        return hosts
    }

    /// Percent-decoding, UTF-8.
    private static func decode(_ text: Substring) throws(Invalid) -> String {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h < utf8.endIndex, utf8.index(after: h) < utf8.endIndex,
                      let v = UInt8(String(decoding: utf8[h...utf8.index(after: h)], as: UTF8.self), radix: 16) else {
                    throw Invalid(reason: "bad %-escape")
                }
                bytes.append(v)
                i = utf8.index(h, offsetBy: 2)
            } else {
                bytes.append(c)
                i = utf8.index(after: i)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self), !s.utf8.contains(0) else { throw Invalid(reason: "not UTF-8 text") }
        return s
    }
}
