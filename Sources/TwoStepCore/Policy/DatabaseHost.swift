/// One server of `database=` (SPEC §13): a host name, an address or a
/// Unix-socket directory, and its port. A URI names one or more, in the
/// order twostepd tries them.
public struct DatabaseHost: Equatable, Sendable, CustomStringConvertible {
    /// A host name or address (IPv6 without its brackets), or a directory
    /// holding the server's Unix socket.
    public var name: String
    public var port: Int

    public init(name: String, port: Int = 5432) {
        self.name = name
        self.port = port
    }

    /// True when `name` is a Unix-socket directory.
    public var isUnixSocket: Bool { name.hasPrefix("/") }
    /// The socket file of a Unix-socket host, as PostgreSQL names it.
    public var socketPath: String { "\(name)/.s.PGSQL.\(port)" }

    /// True when the server is on this host: a Unix-socket directory,
    /// `localhost`, an address in 127.0.0.0/8, or ::1.
    public var isLocal: Bool {
        if isUnixSocket || name.lowercased() == "localhost" { return true }
        return Self.loopback.contains { $0.contains(name) }
    }

    private static let loopback: [CIDR] = ["127.0.0.0/8", "::1/128"].compactMap { try? CIDR(parsing: $0) }

    /// `name:port` as a URI writes it (`[::1]:5432` for an IPv6 address),
    /// or the socket file. For logs and status: names no secret.
    public var description: String {
        if isUnixSocket { return socketPath }
        return name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)"
    }
}
