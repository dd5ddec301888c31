// twostepd-test: twostepd for its own protocol tests (Tests/Integration/
// test_daemon_protocol.py, through $TWOSTEP_DAEMON_TEST), which also serves
// io.twostep.Test with --test-interface. Never installed: the shipped
// twostepd has no such interface.
import ArgumentParser
import TwoStepDaemon

struct TwostepdTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twostepd-test",
        abstract: "twostepd, and with --test-interface io.twostep.Test, for twostepd's tests.")

    @OptionGroup var daemon: Twostepd

    @Flag(name: .customLong("test-interface"), help: "Also serve io.twostep.Test on DIR/io.twostep.Test (needs --socket-dir).")
    var testInterface = false

    mutating func validate() throws {
        if testInterface && daemon.socketDirectory == nil { throw ValidationError("--test-interface needs --socket-dir") }
    }

    func run() async throws {
        try await daemon.run(serving: testInterface ? [.init(TestInterface())] : [])
    }
}

// As twostepd's main: in top-level code main() would be the synchronous one.
do {
    var command = try TwostepdTest.parseAsRoot()
    if let test = command as? TwostepdTest {
        try await test.run()
    } else {
        try command.run()
    }
} catch {
    TwostepdTest.exit(withError: error)
}
