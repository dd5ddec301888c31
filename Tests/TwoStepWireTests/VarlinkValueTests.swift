import Testing
import TwoStepWire

@Suite("VarlinkValue")
struct VarlinkValueTests {
    @Test("literals build the cases; integers that fit stay exact")
    func literals() {
        let value: VarlinkValue = ["s": "x", "b": true, "i": 7, "d": 2.5, "n": nil, "a": [1, "y"]]
        #expect(value["s"] == .string("x"))
        #expect(value["b"] == .bool(true))
        #expect(value["i"] == .int(7))
        #expect(value["d"] == .double(2.5))
        #expect(value["n"] == .null)
        #expect(value["a"] == .array([.int(1), .string("y")]))
        #expect(VarlinkValue(UInt64.max) == .double(Double(UInt64.max)))
        #expect(VarlinkValue(Int32.min) == .int(Int64(Int32.min)))
    }

    @Test("accessors read their own case only; intValue also takes a whole double")
    func accessors() {
        #expect(VarlinkValue.int(3).intValue == 3)
        #expect(VarlinkValue.double(3).intValue == 3)
        #expect(VarlinkValue.double(3.5).intValue == nil)
        #expect(VarlinkValue.double(1e300).intValue == nil)
        #expect(VarlinkValue.int(3).doubleValue == 3)
        #expect(VarlinkValue.string("3").intValue == nil)
        #expect(VarlinkValue.bool(true).stringValue == nil)
        #expect(VarlinkValue.null.objectValue == nil)
        #expect(VarlinkValue.array([]).arrayValue == [])
        #expect(VarlinkValue.string("x")["key"] == nil)
        #expect(VarlinkValue.object(["k": 1])["k"] == .int(1))
        #expect(VarlinkValue.object(["k": 1])["other"] == nil)
    }

    @Test("a duplicate key in a dictionary literal keeps the last value")
    func duplicateLiteralKeys() {
        let value: VarlinkValue = ["k": 1, "k": 2]
        #expect(value == .object(["k": .int(2)]))
    }

    @Test("JSON text: a non-finite double is written as null, keys sorted, compact")
    func serialize() {
        let text = JSONText.serialize(["b": .double(.infinity), "a": .double(-.nan), "c": [1, 2]])
        #expect(String(decoding: text, as: UTF8.self) == #"{"a":null,"b":null,"c":[1,2]}"#)
    }

    @Test("JSON text: control characters are escaped, everything else is written as UTF-8")
    func escapes() {
        let text = JSONText.serialize(.string("\u{0}\u{1f}\"\\/é😀\u{7f}"))
        #expect(String(decoding: text, as: UTF8.self) == "\"\\u0000\\u001f\\\"\\\\/é😀\u{7f}\"")
    }
}
