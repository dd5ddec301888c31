import Testing
import TwoStepWire

/// The module's Foundation-free JSON: what it writes, Foundation reads back,
/// and what Foundation writes (escaped slashes, \u escapes), it reads.
@Suite struct JSONTextTests {
    @Test func roundTripsValuesAndEscapes() throws {
        let value: VarlinkValue = ["record": "line 1\nline \"2\"\t\\ /é\u{1}", "version": 7, "offline": false, "none": nil,
                                   "list": [1, 2.5, "x"]]
        let text = JSONText.serialize(value)
        #expect(try JSONText.parse(text) == value)
        #expect(String(decoding: text, as: UTF8.self).hasPrefix("{\"list\":[1,2.5,\"x\"],\"none\":null"))
    }

    @Test func readsEveryEscapeAndSurrogatePairs() throws {
        let text = Array(#"{"a":"\/\b\f\n\r\t\u0041\ud83d\ude00"}"#.utf8)
        #expect(try JSONText.parse(text) == ["a": "/\u{8}\u{c}\n\r\tA😀"])
    }

    @Test(arguments: [#"{"a":1"#, #"{"a":"\ud83d"}"#, #"{"a":1,"a":2}"#, "[1,]", "{} x", "\"\u{1}\"", "01x", "01", "-01", "1.", ".5", "+1",
                      "1.e3", "1e", "-", "\u{FEFF}{}",
                      String(repeating: "[", count: 40) + String(repeating: "]", count: 40)])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: JSONText.ParseError.self) { try JSONText.parse(Array(text.utf8)) }
    }

    @Test func bigIntegersStayExact() throws {
        #expect(try JSONText.parse(Array("9223372036854775807".utf8)) == .int(Int64.max))
        #expect(try JSONText.parse(Array("-1e3".utf8)) == .double(-1000))
    }
}
