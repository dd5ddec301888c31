import Foundation
import Testing
@testable import TwoStepVarlink

/// The two JSON readers agree: TwoStepWire's `JSONText` (the PAM module's,
/// no Foundation; also how twostepd and the CLI read a whole message,
/// `VarlinkCall.parse` and `VarlinkReply.parse`) and Foundation's
/// `JSONDecoder` (`VarlinkCoding`: a message's parameters, as JSONText read
/// them and Foundation wrote them again, decoded into typed requests and
/// replies). Each text gives the same value in both, or both refuse it;
/// where they differ, it is said and checked.
@Suite("JSONText and Foundation agree")
struct JSONAgreementTests {
    enum Outcome: Equatable, CustomStringConvertible {
        case value(VarlinkValue)
        case refused

        var description: String {
            switch self {
            case .value(let v): "\(v)"
            case .refused: "refused"
            }
        }
    }

    static func wire(_ bytes: [UInt8]) -> Outcome {
        (try? JSONText.parse(bytes)).map(Outcome.value) ?? .refused
    }

    static func foundation(_ bytes: [UInt8]) -> Outcome {
        (try? JSONDecoder().decode(VarlinkValue.self, from: Data(bytes))).map(Outcome.value) ?? .refused
    }

    /// Equal as JSON values, numbers at the precision RFC 8259 (§6) says
    /// readers can expect of each other, a Double's: an integer or a
    /// double (1e2 and 100), the same number. Up to 2^53 that is exact.
    /// Beyond, within one unit of a Double's precision: Foundation reads
    /// -26600000000000002.1 as the integer -26600000000000002 (it drops
    /// the fraction), JSONText as the Double nearest, -26600000000000004.
    static func same(_ a: VarlinkValue, _ b: VarlinkValue) -> Bool {
        switch (a, b) {
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
            guard let x = a.doubleValue, let y = b.doubleValue else { return false }
            let size = max(abs(x), abs(y))
            return x == y || (size >= 0x1p53 && abs(x - y) <= size * 0x1p-52)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default:
            return a == b
        }
    }

    static func agree(_ a: Outcome, _ b: Outcome) -> Bool {
        switch (a, b) {
        case (.refused, .refused): true
        case (.value(let x), .value(let y)): same(x, y)
        default: false
        }
    }

    // MARK: - The real messages

    /// Requests and replies of io.twostep.Manage and io.twostep.Login as the
    /// CLI, the module and twostepd write them, and their errors.
    static let messages: [String] = [
        #"{"method":"io.twostep.Manage.Status","parameters":{}}"#,
        #"{"method":"io.twostep.Manage.Status","parameters":{"user":"alice"}}"#,
        #"{"method":"io.twostep.Manage.Enroll","parameters":{"backupCodes":10,"code":"123456","force":false,"key":{"algorithm":"SHA1","digits":6,"label":"alice@host","period":30,"secret":"JBSWY3DPEHPK3PXP"},"phone":{"channel":"sms","number":"+966501234534"},"phoneConfirmation":"654321","phoneLabel":"work"}}"#,
        #"{"method":"io.twostep.Manage.RevokeTrust","parameters":{"all":true,"code":"12345678"},"oneway":false,"more":false}"#,
        #"{"parameters":{"authenticators":[{"algorithm":"SHA1","created":1700000000,"digits":6,"id":"a1","label":"phone","period":30}],"backupCodesLeft":9,"enabled":true,"exists":true,"failures":0,"lastAccepted":null,"lockedUntil":null,"path":"/var/lib/twostep/alice","phones":[{"channel":"sms","created":1700000000,"id":"p1","label":"","number":"+966 ••• ••34"}],"trustedDevices":[{"created":1700000000,"expires":1702592000,"id":"d1","key":null,"rhost":"192.0.2.1","service":"sshd"}],"user":"alice"}}"#,
        #"{"parameters":{"authenticatorID":"a1","authorization":{},"backupCodes":["1234-5678","8765-4321"],"replacedCorrupt":false}}"#,
        #"{"error":"io.twostep.Manage.CodeRefused","parameters":{"message":"wrong code (2 failures; locked for 30 s after 5)"}}"#,
        #"{"error":"org.varlink.service.InvalidParameter","parameters":{"parameter":"key.secret"}}"#,
        #"{"method":"io.twostep.Login.Fetch","parameters":{"user":"alice"}}"#,
        #"{"method":"io.twostep.Login.Store","parameters":{"record":"twostep-factors v1\ntotp a1 SHA1 6 30 JBSWY3DPEHPK3PXP label=\"x\"\n","user":"alice","version":null}}"#,
        #"{"method":"io.twostep.Login.AdmitSend","parameters":{"limit":5,"number":"+966501234534","user":"alice","window":3600}}"#,
        #"{"parameters":{"offline":false,"record":"twostep-factors v1\n# é ☃ 😀\n","version":9223372036854775807}}"#,
        #"{"parameters":{"admitted":false,"until":1700003600}}"#,
        #"{"error":"io.twostep.Login.Unavailable","parameters":{"reason":"database: timed out after 2 s"}}"#,
        #"{"parameters":{"description":"interface io.twostep.Login\n\nmethod Fetch(user: string) -> (record: ?string)\n"}}"#,
        #"{"method":"org.varlink.service.GetInfo"}"#,
    ]

    @Test("the interfaces' real messages read the same", arguments: messages)
    func realMessages(_ text: String) {
        let bytes = Array(text.utf8)
        let wire = Self.wire(bytes)
        #expect(wire != .refused)
        #expect(Self.agree(wire, Self.foundation(bytes)), "JSONText: \(wire), Foundation: \(Self.foundation(bytes))")
    }

    @Test("what JSONText writes, Foundation reads as the same value, and the other way round", arguments: messages)
    func writtenByEither(_ text: String) throws {
        let value = try JSONText.parse(Array(text.utf8))
        let wireText = JSONText.serialize(value)
        #expect(Self.agree(Self.foundation(wireText), .value(value)))
        let foundationText = Array(VarlinkCoding.data(of: value))
        #expect(Self.agree(Self.wire(foundationText), .value(value)))
    }

    // MARK: - Edge cases

    static let edgeCases: [String] = [
        // escapes
        #"{"a":"\"\\\/\b\f\n\r\t"}"#, #"{"a":"\u0041\u00e9\u20AC\uFFFF"}"#, #"{"a":"\u0000"}"#, #"{"\u0061":1}"#,
        #"{"a":"\x41"}"#, #"{"a":"\U0041"}"#, #"{"a":"\u004"}"#, #"{"a":"\u00zz"}"#, #"{"a":"\'"}"#,
        // surrogate pairs
        #"{"a":"\ud83d\ude00"}"#, #"{"a":"\uD83D\uDE00"}"#, #"{"a":"\ud83d"}"#, #"{"a":"\ude00"}"#,
        #"{"a":"\ud83d\u0041"}"#, #"{"a":"\ud83dx"}"#, #"{"a":"\ude00\ud83d"}"#, #"{"a":"\ud83d\ud83d"}"#,
        // numbers
        "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890",
        "77777777777777e3", "207777777777777000.5", "770027891003044589.7", "7773027891003044589.744888887777",
        "-26600000000000002.1",
        "1.5", "-1.5e-3", "1e2", "1E2", "1e+2", "1.0", "-0.0", "0.1", "2.2250738585072014e-308", "5e-324",
        "1e-400", "1e400", "-1e400", "1.7976931348623157e308",
        "01", "-01", "00", "1.", ".5", "-", "+1", "--1", "1e", "1e+", "1.e3", "0x10", "1-2", "1..2", "1ee2",
        "Infinity", "NaN", "-Infinity",
        // literals and structure
        "true", "false", "null", "tru", "nul", "True", "[]", "{}", "[,1]", "{,}", "[1 2]",
        "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}", "\"x\"", "", " ", "[", "]", "{", "}",
        // white space
        " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", "\u{0C}{}", "{}\u{0C}", "\u{A0}{}",
        // control characters and DEL in strings
        "\"a\u{1}b\"", "\"a\nb\"", "\"a\tb\"", "\"a\u{7F}b\"",
        // trailing garbage
        "{} x", "{}{}", "{} {}", "1 2", "{}\u{0}", "[1]]", "\"a\"\"b\"", "{}//", "{}/* */", "// x\n{}",
        // nesting within JSONText's limit
        String(repeating: "[", count: 31) + String(repeating: "]", count: 31),
        String(repeating: #"{"a":"#, count: 31) + "1" + String(repeating: "}", count: 31),
    ]

    @Test("edge cases: the same value, or both refuse", arguments: edgeCases)
    func edgeCase(_ text: String) {
        let bytes = Array(text.utf8)
        let wire = Self.wire(bytes)
        let foundation = Self.foundation(bytes)
        #expect(Self.agree(wire, foundation), "JSONText: \(wire), Foundation: \(foundation)")
    }

    /// Where Foundation's reader is lenient and RFC 8259 is not: it takes a
    /// trailing comma (not JSON), a byte order mark (which the RFC lets a
    /// reader ignore, but no Varlink peer sends), and a key twice, keeping
    /// the first (the RFC leaves the meaning open; Python's reader keeps
    /// the last: the same message would name another user there). JSONText
    /// refuses all three, and twostepd and the CLI read messages with
    /// JSONText (they used Foundation's reader until this test found these):
    /// a message means the same to the module, the CLI and twostepd, and
    /// Foundation reads only the parameters written again from what
    /// JSONText read.
    static let foundationIsLenient: [String] = [
        "[1,]", #"{"a":1,}"#, "\u{FEFF}{}", #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"a":{"b":1,"b":1}}"#,
    ]

    @Test("trailing commas, a byte order mark, a key twice: refused by JSONText and so by twostepd and the CLI",
          arguments: foundationIsLenient)
    func lenient(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.wire(bytes) == .refused)
        #expect(Self.foundation(bytes) != .refused, "Foundation's reader now refuses it: move it to edgeCases")
        let call = Array(#"{"method":"io.twostep.Manage.Status","parameters":{"x":"#.utf8) + bytes + Array("}}".utf8)
        #expect(throws: VarlinkMessageError.malformed("message")) { try VarlinkCall.parse(call) }
        let reply = Array(#"{"parameters":{"x":"#.utf8) + bytes + Array("}}".utf8)
        #expect(throws: VarlinkMessageError.malformed("message")) { try VarlinkReply.parse(reply) }
    }

    @Test("a call naming a user twice is refused, not read as either")
    func userTwice() {
        let call = Array(#"{"method":"io.twostep.Manage.Status","parameters":{"user":"alice","user":"root"}}"#.utf8)
        #expect(throws: VarlinkMessageError.malformed("message")) { try VarlinkCall.parse(call) }
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x22, 0xFF, 0x22],                    // not UTF-8 at all
        [0x22, 0xC3, 0x22],                    // truncated sequence
        [0x22, 0xC0, 0x80, 0x22],              // overlong NUL
        [0x22, 0xE0, 0x80, 0xAF, 0x22],        // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],        // a surrogate, encoded
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0x80, 0x22],                    // a lone continuation byte
        Array(#"{"method":"io.twostep.Test."#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
        [0xFF, 0x7B, 0x7D],                    // outside a string
        [0x7B, 0x22, 0xC3, 0xA9, 0x22, 0x3A, 0x31, 0x7D],  // valid: {"é":1}
    ]

    @Test("invalid UTF-8: both refuse it (and both read the valid one)", arguments: invalidUTF8)
    func utf8(_ bytes: [UInt8]) {
        let wire = Self.wire(bytes)
        let foundation = Self.foundation(bytes)
        #expect(Self.agree(wire, foundation), "JSONText: \(wire), Foundation: \(foundation)")
    }

    /// JSONText stops at `JSONText.maxDepth` (32) levels: the module reads
    /// replies that nest 3 deep, and a small bound keeps its stack small.
    /// Foundation goes deeper. Here they differ, by design: JSONText
    /// refuses, and neither crashes on a very deep text.
    @Test("deep nesting: JSONText refuses beyond its limit, Foundation reads what JSONText reads, neither crashes")
    func deepNesting() {
        for depth in [JSONText.maxDepth - 1, JSONText.maxDepth, JSONText.maxDepth + 1, 100, 10_000, 100_000] {
            let arrays = Array(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).map { UInt8($0.asciiValue ?? 0) }
            let wire = Self.wire(arrays)
            let foundation = Self.foundation(arrays)
            if depth <= JSONText.maxDepth {
                #expect(wire != .refused && Self.agree(wire, foundation), "depth \(depth)")
            } else {
                #expect(wire == .refused, "depth \(depth)")
            }
        }
    }
}
