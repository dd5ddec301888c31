import ArgumentParser
import Dispatch
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import TwoStepVarlink

#if canImport(Glibc)
import Glibc
#endif

/// `twostepd`: self-service into the administrator-managed store (SPEC §8).
public struct Twostepd: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "twostepd",
        abstract: "Serve twostep's Varlink interfaces to local users.",
        discussion: """
            Under systemd, twostepd.socket passes the sockets \
            (/run/twostep/io.twostep.Manage, mode 0666, and io.twostep.Login, \
            mode 0600) and twostepd exits when idle. With --socket-dir it binds \
            them itself and runs until SIGTERM or SIGINT. Without either, and \
            when no sockets were passed, it binds them in /run/twostep.
            """
    )

    public static let version = "0.1.0"
    static let defaultSocketDirectory = "/run/twostep"
    static let manageName = ManageProtocol.socketName
    static let loginName = LoginProtocol.socketName

    @Option(name: .customLong("socket-dir"), help: ArgumentHelp(
        "Bind the sockets in <dir> (created 0755 when missing; root's own, not a link, not writable by group or others) and run until SIGTERM.",
        valueName: "dir"))
    public var socketDirectory: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("The configuration file.", valueName: "file"))
    var configurationFile = "/etc/twostep/twostep.conf"

    @Option(name: .customLong("idle-exit"), help: ArgumentHelp(
        "Exit after <seconds> with no connection open and no phone confirmation or counted send held in memory; 0 never. Default: 360 under socket activation, else 0.",
        valueName: "seconds"))
    var idleExit: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp(
        "offline=cached: where this host keeps its copies of the records and its journal (root's, mode 0700; created when missing).",
        valueName: "dir"))
    var cacheDirectory = "/var/cache/twostep"

    @Flag(name: .customLong("migrate"), help: ArgumentHelp(
        "Create or upgrade the fleet store's schema (backend=postgresql) in the database, print the versions, and exit."))
    var migrate = false

    @Flag(name: .customLong("status"), help: ArgumentHelp(
        "Print what the running twostepd (in --socket-dir, default /run/twostep) says of the fleet store's database: the server in use, its role, its synchronous standby, the last failover, calls, errors and latency; root only."))
    var status = false

    @Flag(name: .customLong("json"), help: "With --status: the reply as JSON.")
    var json = false

    public init() {}

    /// Parses the command line and runs (main.swift's one call). Spelled
    /// out because in top-level code `main()` resolves to the synchronous
    /// ParsableCommand one, which refuses an async command.
    public static func parseAndRun() async {
        do {
            var command = try parseAsRoot()
            if let daemon = command as? Twostepd {
                try await daemon.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    public mutating func validate() throws {
        if let idleExit, idleExit < 0 { throw ValidationError("--idle-exit must be 0 or more seconds") }
        if json && !status { throw ValidationError("--json goes with --status") }
        if status && migrate { throw ValidationError("--status and --migrate do not go together") }
    }

    public func run() async throws {
        try await run(serving: [])
    }

    /// An interface served besides io.twostep.Manage and io.twostep.Login:
    /// twostepd-test's io.twostep.Test. Its socket, named after it, is
    /// bound in `--socket-dir` with mode 0600 and serves uid 0 only.
    public struct AdditionalInterface: Sendable {
        public let interface: any VarlinkInterface

        public init(_ interface: any VarlinkInterface) {
            self.interface = interface
        }
    }

    /// Runs the daemon, also serving `additional` when it binds its own
    /// sockets (`--socket-dir`); twostepd's main serves none.
    public func run(serving additional: [AdditionalInterface]) async throws {
        if status {
            let code = try StatusClient(socketDirectory: socketDirectory ?? Self.defaultSocketDirectory).run(json: json)
            if code != 0 { throw ExitCode(code) }
            return
        }
        let logLevel = self.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "twostepd")
        signal(SIGPIPE, SIG_IGN)
        umask(0o077)
        raiseOpenFileLimit(logger)
        do {
            if migrate { return try await runMigration(logger) }
            let (server, database) = try makeServer(logger, additional: additional)
            if let connections = database?.connections {
                // The server in use and whether it has a synchronous standby,
                // in the start-up log (SPEC §13), without holding the start up.
                DispatchQueue.global().async { DatabaseStatus.read(connections).logAtStart(logger) }
            }
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            database?.connections.shutdown()
        } catch let error as DaemonError {
            FileHandleOutput.standardError("twostepd: \(error)\n")
            throw ExitCode(error.exitCode)
        }
    }

    /// `--migrate`: the schema, created or upgraded; exit 0, or 3 naming
    /// what the database said.
    private func runMigration(_ logger: Logger) async throws {
        let interfaces = try loadInterfaces(logger)
        guard let database = interfaces.database else {
            throw DaemonError.configuration(path: configurationFile, message: "--migrate needs backend=postgresql and database=")
        }
        defer { database.connections.shutdown() }
        do {
            let (from, to) = try database.migrate()
            print(from == to ? "twostepd: the schema is at version \(to); nothing to do" : "twostepd: the schema is now at version \(to) (was \(from == 0 ? "absent" : String(from)))")
        } catch {
            let reason = (error as? PSQLError).map(PostgresRecordBackend.describe) ?? "\(error)"
            throw DaemonError.database("migration failed: \(reason)")
        }
    }

    private func loadInterfaces(_ logger: Logger) throws -> DaemonInterfaces {
        do {
            return try DaemonInterfaces(configurationPath: configurationFile, cacheDirectory: cacheDirectory, logger: logger)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError.configuration(path: configurationFile, message: "\(error)")
        }
    }

    private func makeServer(_ logger: Logger, additional: [AdditionalInterface]) throws -> (VarlinkServer, PostgresRecordBackend?) {
        let interfaces = try loadInterfaces(logger)
        let info = VarlinkService.Info(
            vendor: "twostep", product: "twostepd", version: Self.version,
            url: "man:twostepd(8)")
        let manage = VarlinkService(info: info, interface: interfaces.manage)
        let login = VarlinkService(info: info, interface: interfaces.login)

        var listeners: [VarlinkServer.Listener] = []
        var activated = false
        if socketDirectory == nil, let passed = try SocketActivation.passedSockets() {
            activated = true
            for socket in passed {
                guard SocketActivation.isListeningUnixStream(socket.descriptor) else {
                    throw DaemonError.activation("descriptor \(socket.descriptor) (\(socket.name)) is not a listening Unix stream socket")
                }
                switch socket.name {
                case Self.manageName:
                    listeners.append(.init(name: socket.name, descriptor: socket.descriptor, service: manage, rootOnly: false, bound: nil))
                case Self.loginName:
                    listeners.append(.init(name: socket.name, descriptor: socket.descriptor, service: login, rootOnly: true, bound: nil))
                default:
                    logger.warning("ignoring a passed socket with an unknown name", metadata: ["name": "\(socket.name)"])
                    close(socket.descriptor)
                }
            }
            guard !listeners.isEmpty else {
                throw DaemonError.activation(
                    "no socket named \(Self.manageName) or \(Self.loginName) (FileDescriptorName=, or --fdname= of systemd-socket-activate)")
            }
        } else {
            let directory = socketDirectory ?? Self.defaultSocketDirectory
            try SocketBinding.prepareDirectory(directory)
            var sockets: [(String, mode_t, VarlinkService, Bool)] = [
                (Self.manageName, 0o666, manage, false),
                (Self.loginName, 0o600, login, true),
            ]
            for extra in additional {
                sockets.append((extra.interface.name, 0o600, VarlinkService(info: info, interface: extra.interface), true))
            }
            do {
                for (name, mode, service, rootOnly) in sockets {
                    let bound = try SocketBinding.bind(path: directory + "/" + name, mode: mode)
                    listeners.append(.init(name: name, descriptor: bound.descriptor, service: service, rootOnly: rootOnly, bound: bound))
                }
            } catch {
                for listener in listeners {
                    close(listener.descriptor)
                    if let bound = listener.bound { SocketBinding.remove(bound) }
                }
                throw error
            }
        }
        // A code sent to a phone being added lives in memory for
        // PendingCode.lifetime (300 s) between two calls: do not exit before.
        let idleSeconds = idleExit ?? (activated ? 360 : 0)
        return (VarlinkServer(
            listeners: listeners, idleExit: idleSeconds > 0 ? .seconds(Int64(idleSeconds)) : nil, logger: logger),
            interfaces.database)
    }

    /// Room for every socket's connection budget: the soft limit is
    /// often 1024. Failing is not fatal (a sandbox may forbid it).
    private func raiseOpenFileLimit(_ logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(rlim_t(DaemonLimits.openFiles), limit.rlim_max)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = wanted
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.notice("cannot raise the open-file limit", metadata: ["errno": "\(errno)"])
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}
