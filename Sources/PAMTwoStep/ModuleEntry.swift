import CPAMShim
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `pam_sm_authenticate`, called from the C shim. Reads the system
/// configuration file (`config=`, else /etc/twostep/twostep.conf; missing:
/// the built-in defaults) and the pam.d line's options over it; a bad file
/// or a bad option denies every login (PAM_SERVICE_ERR) until it is fixed.
/// Then runs the SPEC §3 flow.
@_cdecl("twostep_authenticate")
public func twostepAuthenticate(
    _ pamh: OpaquePointer?, _ flags: Int32, _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> Int32 {
    guard let pamh else { return PAM_SERVICE_ERR }
    let arguments = ModuleEntry.arguments(argc, argv)
    var session = PAMSession(handle: pamh)
    guard let (options, databaseTimeout) = ModuleConfiguration.options(arguments: arguments, session: session) else {
        session.error(Messages.unavailable)
        return PAM_SERVICE_ERR
    }
    session.debug = options.debug
    let login = Login(session: session, options: options, databaseTimeout: databaseTimeout, now: Int64(time(nil)))
    return login.authenticate().pamCode
}

/// What every entry point does with its arguments.
enum ModuleEntry {
    /// The pam.d line's arguments.
    static func arguments(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> [String] {
        var arguments = [String]()
        for i in 0..<Int(max(argc, 0)) {
            if let argument = argv?[i] { arguments.append(String(cString: argument)) }
        }
        return arguments
    }
}
