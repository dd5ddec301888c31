/// `database=` (SPEC §9): a libpq connection URI,
/// `postgresql://[user@][host][:port]/dbname[?param=value&…]`, of which
/// twostepd understands the parts a login store needs: user, host (a name,
/// an address, or a Unix-socket directory, also as `?host=/run/postgresql`),
/// port, database, `sslmode` and `sslrootcert`. A password in the URI is
/// refused: it would be in a world-readable file; it goes in
/// `database_password_file=`.
///
/// In TwoStepCore (plain Swift, no I/O) so that twostepd, which connects
/// with it, and the CLI, which reports on it (`transportWarning`), read
/// the URI the same way.
public struct DatabaseURI: Equatable, Sendable {
    /// libpq's `sslmode` values. `prefer` is libpq's default.
    public enum SSLMode: String, Sendable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user = "twostep"
    /// A host name or address, or a directory holding the server's Unix socket.
    public var host = "/var/run/postgresql"
    public var port = 5432
    public var database = "twostep"
    public var sslMode = SSLMode.prefer
    public var sslRootCertificate: String?

    /// True when `host` is a Unix-socket directory.
    public var isUnixSocket: Bool { host.hasPrefix("/") }
    /// The socket file of a Unix-socket `host`, as PostgreSQL names it.
    public var socketPath: String { "\(host)/.s.PGSQL.\(port)" }

    /// True when the server is on this host: a Unix-socket directory,
    /// `localhost`, an address in 127.0.0.0/8, or ::1.
    public var isLocal: Bool {
        if isUnixSocket || host.lowercased() == "localhost" { return true }
        return Self.loopback.contains { $0.contains(host) }
    }

    private static let loopback: [CIDR] = ["127.0.0.0/8", "::1/128"].compactMap { try? CIDR(parsing: $0) }

    /// Why the connection does not protect the records on the network, nil
    /// when it does: a server on another host reached with an `sslmode`
    /// other than `verify-full` or `verify-ca`, so that whoever sits between
    /// the hosts can read every record (TOTP secrets included) or answer in
    /// the server's place. twostepd logs it at start; `twostep report` and
    /// `twostep setup --status` show it.
    public var transportWarning: String? {
        guard !isLocal, sslMode != .verifyFull, sslMode != .verifyCA else { return nil }
        return "database=: the server \(host) is not on this host and sslmode=\(sslMode.rawValue) does not check its certificate: "
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
        if !rest.isEmpty {
            var hostPart = rest
            if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
                guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { throw Invalid(reason: "bad port") }
                port = p
                hostPart = rest[..<colon]
            }
            if hostPart.hasPrefix("["), hostPart.hasSuffix("]") { hostPart = hostPart.dropFirst().dropLast() }
            if !hostPart.isEmpty { host = try Self.decode(hostPart) }
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
            case "host": host = value
            case "port":
                guard let p = Int(value), (1...65535).contains(p) else { throw Invalid(reason: "bad port") }
                port = p
            case "user": user = value
            case "dbname": database = value
            case "password": throw Invalid(reason: "a password in the URI is refused; put it in database_password_file=")
            case "connect_timeout", "application_name": break
            default: throw Invalid(reason: "unknown parameter '\(key)'")
            }
        }
        guard !user.isEmpty, !database.isEmpty, !host.isEmpty else { throw Invalid(reason: "empty user, host or database") }
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
