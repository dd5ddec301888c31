import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The options one login runs with: the system configuration file's
/// (SPEC §7), read on every call, with the pam.d line's arguments over
/// them. `config=FILE` on the line names another file; it is found first,
/// since the file's values are the base the other arguments override.
enum ModuleConfiguration {
    /// The options, or nil after logging why there are none (the caller
    /// denies with PAM_SERVICE_ERR): a malformed pam.d line, or a file that
    /// cannot be used (the message names it, and the line).
    static func options(arguments: [String], session: PAMSession) -> (options: ModuleOptions, databaseTimeout: Int)? {
        let path: String
        do {
            path = try ModuleOptions.configurationFile(in: arguments) ?? ConfigurationFile.defaultPath
        } catch {
            session.log(LOG_ERR, "configuration error in the pam.d line: \(error); denying every login until it is fixed")
            return nil
        }
        let file: SystemConfiguration
        do {
            file = try ConfigurationFile.load(path: path)
        } catch {
            session.log(LOG_ERR, "configuration error: \(error); denying every login until it is fixed")
            return nil
        }
        do {
            return (try ModuleOptions(arguments: arguments, base: file.options), file.databaseTimeout)
        } catch {
            session.log(LOG_ERR, "configuration error in the pam.d line: \(error); denying every login until it is fixed")
            return nil
        }
    }
}
