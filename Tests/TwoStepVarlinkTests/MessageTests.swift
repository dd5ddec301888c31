import Foundation
import Testing
@testable import TwoStepVarlink

@Suite("Varlink messages")
struct MessageTests {
    private func json(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test("a call is parsed: method, parameters as JSON text, flags; other keys ignored")
    func parseCall() throws {
        let call = try VarlinkCall.parse(Array(
            #"{"method":"io.twostep.Manage.Status","parameters":{"user":"alice","n":2},"oneway":true,"extra":[1]}"#.utf8))
        #expect(call.method == "io.twostep.Manage.Status")
        #expect(call.interface == "io.twostep.Manage")
        #expect(call.shortMethod == "Status")
        #expect(json(call.parameters) == #"{"n":2,"user":"alice"}"#)
        #expect(call.oneway && !call.more && !call.upgrade)
    }

    @Test("absent or null parameters are {}")
    func emptyParameters() throws {
        #expect(json(try VarlinkCall.parse(Array(#"{"method":"a.B"}"#.utf8)).parameters) == "{}")
        #expect(json(try VarlinkCall.parse(Array(#"{"method":"a.B","parameters":null}"#.utf8)).parameters) == "{}")
    }

    @Test("malformed messages name the part that is wrong", arguments: [
        ("not json", "message"),
        ("[1,2]", "message"),
        ("\"method\"", "message"),
        ("{\"method\":\"a.B\"", "message"),
        ("{}", "method"),
        ("{\"method\":5}", "method"),
        ("{\"method\":\"a.B\",\"parameters\":[]}", "parameters"),
        ("{\"method\":\"a.B\",\"parameters\":\"x\"}", "parameters"),
        ("{\"method\":\"a.B\",\"oneway\":1}", "oneway"),
        ("{\"method\":\"a.B\",\"more\":\"yes\"}", "more"),
        ("{\"method\":\"a.B\",\"upgrade\":{}}", "upgrade"),
    ])
    func malformed(message: String, part: String) {
        #expect(throws: VarlinkMessageError.malformed(part)) { try VarlinkCall.parse(Array(message.utf8)) }
    }

    @Test("bytes that are not UTF-8 are not a message")
    func notUTF8() {
        let message: [UInt8] = Array(#"{"method":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: VarlinkMessageError.malformed("message")) { try VarlinkCall.parse(message) }
    }

    @Test("deep nesting within 64 KiB is refused or parsed, never a crash")
    func deepNesting() {
        let depth = 32_000
        let message = Array((#"{"method":"a.B","parameters":{"x":"# + String(repeating: "[", count: depth)
            + String(repeating: "]", count: depth) + "}}").utf8)
        #expect(message.count < 65536)
        _ = try? VarlinkCall.parse(message)
        let objects = Array((String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)).utf8)
        _ = try? VarlinkCall.parse(objects)
    }

    @Test("a call encodes to one NUL-terminated object that parses back")
    func encodeCall() throws {
        let call = VarlinkCall(
            method: "io.x.Say\"quote", parameters: Data(#"{"text":"a\u0000b"}"#.utf8), oneway: true)
        let bytes = call.encoded()
        #expect(bytes.last == 0)
        #expect(bytes.dropLast().contains(0) == false)
        let back = try VarlinkCall.parse(bytes.dropLast())
        #expect(back.method == call.method)
        #expect(back.oneway)
        #expect(json(back.parameters) == #"{"text":"a\u0000b"}"#)
    }

    @Test("replies: parameters and errors encode and parse back")
    func replies() throws {
        let ok = VarlinkReply.encode(parameters: Data(#"{"a":1}"#.utf8))
        #expect(String(decoding: ok, as: UTF8.self) == "{\"parameters\":{\"a\":1}}\0")
        #expect(try VarlinkReply.parse(ok.dropLast()) == VarlinkReply(result: .success(Data(#"{"a":1}"#.utf8))))
        #expect(String(decoding: VarlinkReply.encode(parameters: Data()), as: UTF8.self) == "{\"parameters\":{}}\0")

        let error = VarlinkError(name: "io.twostep.Manage.CodeRefused", parameters: ["message": "wrong code", "failures": 2])
        let bad = VarlinkReply.encode(error: error)
        #expect(String(decoding: bad, as: UTF8.self)
            == "{\"error\":\"io.twostep.Manage.CodeRefused\",\"parameters\":{\"failures\":2,\"message\":\"wrong code\"}}\0")
        #expect(try VarlinkReply.parse(bad.dropLast()).result == .failure(error))
    }

    @Test("a reply without parameters has {}; continues is read; bad replies are refused")
    func replyEdges() throws {
        #expect(try VarlinkReply.parse(Array("{}".utf8)).result == .success(Data("{}".utf8)))
        #expect(try VarlinkReply.parse(Array(#"{"parameters":{},"continues":true}"#.utf8)).continues)
        #expect(try VarlinkReply.parse(Array(#"{"error":"a.B"}"#.utf8)).result == .failure(VarlinkError(name: "a.B")))
        #expect(throws: VarlinkMessageError.malformed("error")) { try VarlinkReply.parse(Array(#"{"error":1}"#.utf8)) }
        #expect(throws: VarlinkMessageError.malformed("parameters")) {
            try VarlinkReply.parse(Array(#"{"parameters":[]}"#.utf8))
        }
        #expect(throws: VarlinkMessageError.malformed("message")) { try VarlinkReply.parse(Array("nope".utf8)) }
    }
}

@Suite("JSON values and parameters")
struct ValueTests {
    @Test("integers stay exact, other numbers are doubles, literals build objects")
    func numbers() throws {
        let value = try JSONDecoder().decode(VarlinkValue.self, from: Data(
            #"{"i":9007199254740993,"d":1.5,"b":true,"n":null,"s":"x","a":[1,"y"]}"#.utf8))
        #expect(value["i"] == .int(9_007_199_254_740_993))
        #expect(value["d"] == .double(1.5))
        #expect(value["b"] == .bool(true))
        #expect(value["n"] == .null)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["a"] == [1, "y"])
        let literal: VarlinkValue = ["i": 9_007_199_254_740_993, "d": 1.5, "b": true, "n": nil, "s": "x", "a": [1, "y"]]
        #expect(value == literal)
        #expect(VarlinkValue(UInt64.max) == .double(Double(UInt64.max)))
        #expect(VarlinkValue.double(2.0).intValue == 2)
    }

    @Test("a non-finite double is written as null")
    func nonFinite() {
        #expect(String(decoding: VarlinkCoding.data(of: ["x": .double(.nan)]), as: UTF8.self) == #"{"x":null}"#)
    }

    private struct Parameters: Codable, Equatable {
        struct Phone: Codable, Equatable { var number: String }
        var user: String
        var code: String?
        var phones: [Phone]? = nil
    }

    @Test("decode: typed, unknown fields refused, missing and ill-typed fields named")
    func decode() throws {
        let fields: Set<String> = ["user", "code", "phones"]
        let ok = try VarlinkCoding.decode(Parameters.self, from: Data(#"{"user":"alice","code":"123456","phones":[]}"#.utf8), fields: fields)
        #expect(ok == Parameters(user: "alice", code: "123456", phones: []))
        #expect(throws: VarlinkError.invalidParameter("admin")) {
            try VarlinkCoding.decode(Parameters.self, from: Data(#"{"user":"a","admin":true,"zzz":1}"#.utf8), fields: fields)
        }
        #expect(throws: VarlinkError.invalidParameter("user")) {
            try VarlinkCoding.decode(Parameters.self, from: Data(#"{"code":"1"}"#.utf8), fields: fields)
        }
        #expect(throws: VarlinkError.invalidParameter("user")) {
            try VarlinkCoding.decode(Parameters.self, from: Data(#"{"user":5}"#.utf8), fields: fields)
        }
        #expect(throws: VarlinkError.invalidParameter("phones.0.number")) {
            try VarlinkCoding.decode(Parameters.self, from: Data(#"{"user":"a","phones":[{"number":1}]}"#.utf8), fields: fields)
        }
        // Without a field list, unknown keys pass (JSONDecoder ignores them).
        #expect(try VarlinkCoding.decode(Parameters.self, from: Data(#"{"user":"a","x":1}"#.utf8)).user == "a")
    }

    @Test("encode: an object's JSON text; anything else is refused")
    func encode() throws {
        #expect(String(decoding: try VarlinkCoding.encode(Parameters(user: "a", phones: [.init(number: "+1")])), as: UTF8.self)
            == #"{"phones":[{"number":"+1"}],"user":"a"}"#)
        #expect(throws: VarlinkError.invalidParameter("reply")) { try VarlinkCoding.encode([1, 2]) }
        #expect(throws: VarlinkError.invalidParameter("reply")) { try VarlinkCoding.encode(["x": Double.infinity]) }
    }

    @Test("errors: from a dictionary, from an Encodable, the standard ones, decoded back")
    func errors() {
        struct Refused: Codable, Equatable { var message: String; var failures: Int }
        let fromDictionary = VarlinkError(name: "io.twostep.Manage.CodeRefused", parameters: ["message": "wrong code", "failures": 2])
        let fromEncodable = VarlinkError(name: "io.twostep.Manage.CodeRefused", encoding: Refused(message: "wrong code", failures: 2))
        #expect(fromDictionary == fromEncodable)
        #expect(fromEncodable.decodeParameters(as: Refused.self) == Refused(message: "wrong code", failures: 2))
        #expect(VarlinkError(name: "a.B", encoding: [1, 2]).parameters.isEmpty)
        #expect(VarlinkError.methodNotFound("a.B") == VarlinkError(name: "org.varlink.service.MethodNotFound", parameters: ["method": "a.B"]))
        #expect(VarlinkError.invalidParameter("code").parameters == ["parameter": "code"])
        #expect(VarlinkError.interfaceNotFound("a").name == "org.varlink.service.InterfaceNotFound")
        #expect(VarlinkError.methodNotImplemented("a.B").name == "org.varlink.service.MethodNotImplemented")
        #expect(fromDictionary.description == #"io.twostep.Manage.CodeRefused {"failures":2,"message":"wrong code"}"#)
    }
}
