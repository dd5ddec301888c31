import ArgumentParser
import TwoStepCore

/// A channel named on the command line (`--channel sms|voice`).
extension ChannelKind: ExpressibleByArgument {}

/// Where the channel plugins are (`--channels`), for commands that send a code.
struct ChannelDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("channels"),
        help: ArgumentHelp(
            "The directory of channel plugins (sms, voice). Use the same value as the PAM module's channels= option.",
            valueName: "dir"))
    var directory = ModuleOptions().channels

    func validate() throws {
        guard directory.hasPrefix("/") else { throw ValidationError("--channels must be an absolute directory") }
    }
}
