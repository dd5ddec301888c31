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
        #expect(try JSONText.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
    }

    @Test("a number whose value is an integer is one, exactly when it fits, however written", arguments: [
        ("-1e3", VarlinkValue.int(-1000)), ("1.0", .int(1)), ("2.50e1", .int(25)), ("77777777777777e3", .int(77_777_777_777_777_000)),
        ("-9.223372036854775808e18", .int(Int64.min)), ("9.223372036854775808e18", .double(9.223372036854775808e18)),
        ("1.5", .double(1.5)), ("15e-1", .double(1.5)), ("150e-1", .int(15)), ("0.0", .int(0)), ("-0.0", .int(0)),
        ("1e19", .double(1e19)), ("1e400000000000000000000", nil), ("1e-400000000000000000000", .int(0)),
        ("0." + String(repeating: "0", count: 60000) + "1", .int(0)), ("207777777777777000.5", .int(207_777_777_777_776_992)),
    ] as [(String, VarlinkValue?)])
    func exactIntegers(_ text: String, _ expected: VarlinkValue?) {
        let value = try? JSONText.parse(Array(text.utf8))
        #expect(value == expected)
        if case .double(let d)? = value, case .double(let e)? = expected { #expect(d.sign == e.sign) }
    }
}
