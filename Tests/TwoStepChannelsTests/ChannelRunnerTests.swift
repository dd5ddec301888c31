import Testing
@testable import TwoStepChannels

@Suite("Channel output for the log")
struct ChannelOutputTests {
    @Test("the code is blanked, control bytes replaced, only the first non-empty line kept")
    func loggable() {
        let out = Array("\n  \nerror: could not send 123456 to +966\u{1b}[0m\nsecond line 123456\n".utf8)
        let text = ChannelRunner.loggable(out, hiding: "123456")
        #expect(text == "error: could not send ****** to +966?[0m")
        #expect(!ChannelRunner.loggable(Array("123456123456".utf8), hiding: "123456").contains("1"))
        #expect(ChannelRunner.loggable(Array(String(repeating: "x", count: 500).utf8), hiding: "1").count == 200)
    }
}
