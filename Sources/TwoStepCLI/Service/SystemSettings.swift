import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The system configuration as the CLI reads it (SPEC §7):
/// /etc/twostep/twostep.conf, or the file `TWOSTEP_CONFIG` names (tests, and
/// trying a configuration out: the CLI runs with the caller's rights, so
/// the variable gives nobody more than they have).
enum SystemSettings {
    /// The file: `TWOSTEP_CONFIG`, else /etc/twostep/twostep.conf.
    static var path: String { environment("TWOSTEP_CONFIG") ?? SystemConfiguration.defaultPath }

    /// The configuration; a bad file is a usage error naming the file and the line (exit 2).
    static func load() throws(CLIError) -> SystemConfiguration {
        let path = self.path
        let configuration: SystemConfiguration
        do {
            configuration = try ConfigurationFile.load(path: path)
        } catch {
            throw .usage("\(error)")
        }
        return configuration
    }

    /// Where twostepd's sockets are: `TWOSTEP_SOCKET_DIR`, else `socket_dir=`.
    static func socketDirectory(_ configuration: SystemConfiguration) -> String {
        environment("TWOSTEP_SOCKET_DIR") ?? configuration.options.socketDirectory
    }

    /// Where this command counts sends (SPEC §5): root's `send_count_dir=`;
    /// none for an ordinary user, who can reach only their own store in
    /// the home directory, whose channel plugin runs as them.
    static func sendCounter(_ configuration: SystemConfiguration) -> (any SendCounter)? {
        geteuid() == 0 ? SendCountDirectory(path: configuration.options.sendCountDirectory) : nil
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}
