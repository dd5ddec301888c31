/// Why twostepd cannot start (or must stop): one error type for the module.
enum DaemonError: Error, CustomStringConvertible {
    /// The configuration file is wrong (exit 2, SPEC §7).
    case configuration(path: String, message: String)
    /// LISTEN_FDS and friends are inconsistent, or name no socket we serve.
    case activation(String)
    /// A socket could not be set up at `path`.
    case socket(path: String, message: String)
    /// The database refused or did not answer (`--migrate`; exit 3).
    case database(String)

    var description: String {
        switch self {
        case .configuration(let path, let message): "\(path): \(message)"
        case .activation(let message): "socket activation: \(message)"
        case .socket(let path, let message): "\(path): \(message)"
        case .database(let message): "database: \(message)"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .configuration: 2
        case .activation, .socket: 1
        case .database: 3
        }
    }
}
