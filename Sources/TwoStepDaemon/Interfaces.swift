import FoundationEssentials
import Logging
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
import TwoStepVarlink

/// What twostepd serves, made from the configuration file (SPEC §7; a
/// missing file means the built-in defaults).
struct DaemonInterfaces {
    /// DIR/io.twostep.Manage (every local user).
    let manage: any VarlinkInterface
    /// DIR/io.twostep.Login (root): the module's store in fleet mode; nil
    /// with backend=file (the socket then answers only org.varlink.service).
    let login: (any VarlinkInterface)?
    /// The fleet store (its connections are made as calls need them).
    let database: PostgresRecordBackend?

    /// - Throws: the configuration error, naming the file (and the line);
    ///   twostepd prints it and exits 2.
    /// - Parameter cacheDirectory: where `offline=cached` keeps its copies and journal.
    init(configurationPath: String, cacheDirectory: String, logger: Logger) throws {
        let configuration = try ConfigurationFile.load(path: configurationPath)
        let database = try Self.database(configuration, path: configurationPath, logger: logger)
        self.database = database
        guard let database else {
            manage = ManageInterface(configuration: configuration, database: nil)
            login = nil
            return
        }
        switch configuration.offline {
        case .deny:
            manage = ManageInterface(configuration: configuration, database: database, sendCounter: database, connections: database.connections)
            login = LoginInterface(backend: database, counter: database)
        case .cached:
            let cache = try OfflineCache(
                database: database, directory: cacheDirectory, maxAge: configuration.offlineMaxAge,
                policy: configuration.options.policy, logger: Logger(label: "twostepd.offline"))
            // Changes made through Manage (a reset) reach this host's copies.
            // Sends are counted in the database itself: no send offline.
            manage = ManageInterface(configuration: configuration, database: cache.online, sendCounter: database, connections: database.connections)
            login = LoginInterface(backend: cache, counter: database)
        }
    }

    /// The PostgreSQL client of `backend=postgresql`, nil for files. The
    /// password is read once, here, from the root-only file; it is never
    /// passed on (channel plugins get a clean environment) or logged.
    static func database(_ configuration: SystemConfiguration, path: String, logger: Logger) throws -> PostgresRecordBackend? {
        guard configuration.backend == .postgresql, let text = configuration.database else { return nil }
        let uri: DatabaseURI
        do { uri = try DatabaseURI(text) } catch {
            throw DaemonError.configuration(path: path, message: "\(error)")
        }
        if let warning = uri.transportWarning { logger.warning("\(path): \(warning)") }
        var password: String?
        if let file = configuration.databasePasswordFile {
            let secret = try ConfigurationFile.secret(path: file)
            password = secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
        var databaseLogger = logger
        databaseLogger[metadataKey: "database"] = "\(uri.user)@\(uri.hosts.map { $0.description }.joined(separator: ","))/\(uri.database)"
        do {
            return try PostgresRecordBackend(uri: uri, password: password, timeout: configuration.databaseTimeout, logger: databaseLogger)
        } catch {
            throw DaemonError.configuration(path: path, message: "database=: \(error)")
        }
    }
}
