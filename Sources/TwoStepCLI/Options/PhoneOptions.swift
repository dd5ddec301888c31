import ArgumentParser
import TwoStepCore

/// A channel named on the command line (`--channel sms|voice`).
extension ChannelKind: ExpressibleByArgument {}

/// Where the channel plugins are (`--channels`), for commands that send a code.
struct ChannelDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("channels"),
        help: ArgumentHelp(
            "The directory of channel plugins (sms, voice). Default: channels= of twostep.conf, else /usr/lib/twostep/channels (the PAM module's default). Not for a store twostepd manages: it runs the plugins its configuration names.",
            valueName: "dir"))
    var directory: String?

    func validate() throws {
        if let directory, !directory.hasPrefix("/") { throw ValidationError("--channels must be an absolute directory") }
    }
}
