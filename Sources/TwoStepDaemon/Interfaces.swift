import FoundationEssentials
import TwoStepCore
import TwoStepStore
import TwoStepVarlink

/// The interfaces twostepd serves, made from the configuration file at
/// `configurationPath` (SPEC §7; a missing file means the built-in defaults).
///
/// - Returns: `manage` for DIR/io.twostep.Manage (every local user); `login`
///   for DIR/io.twostep.Login, nil until the fleet store serves logins
///   there (the socket then answers only org.varlink.service).
/// - Throws: the configuration error, naming the file and the line;
///   twostepd prints it and exits 2.
public func makeInterfaces(configurationPath: String) throws -> (manage: any VarlinkInterface, login: (any VarlinkInterface)?) {
    let configuration = try ConfigurationFile.load(path: configurationPath)
    guard configuration.backend == .file else {
        throw DaemonError.configuration(path: configurationPath,
            message: "backend=\(configuration.backend.rawValue) is not supported by this twostepd yet; use backend=file")
    }
    return (manage: ManageInterface(configuration: configuration), login: nil)
}
