import TwoStepCore
/// JSON text to and from `VarlinkValue`, without Foundation, for the PAM
/// module's twostepd client (the module links no Foundation; twostepd and
/// the CLI use Foundation's coders through `VarlinkCoding`).
///
/// The parser takes RFC 8259 JSON and nothing else: one value, nesting at
/// most `maxDepth` deep, strings in UTF-8 with every escape (surrogate
/// pairs joined; a lone surrogate is an error), numbers as the RFC's
/// grammar has them (no leading zero, no `+`, digits on both sides of the
/// point), no trailing comma, no byte order mark, each key once in an
/// object. Numbers whose value is an integer that fits in `Int64` are
/// integers, exactly, however written (`100`, `1e2`, `1.00e2`); so is a
/// number that a `Double` rounds to one (`1e-400`, `207777777777777000.5`).
/// It is also how twostepd and the CLI read a message (`VarlinkCall.parse`,
/// `VarlinkReply.parse`): all three read the same bytes the same way.
public enum JSONText {
    public static let maxDepth = 32

    /// Why a text is not JSON; `offset` is the byte where it went wrong.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// The JSON text of `value`: compact, keys sorted (so the same value
    /// always gives the same bytes), non-ASCII characters as UTF-8.
    public static func serialize(_ value: VarlinkValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, to: &out)
        return out
    }

    /// Parses one JSON value; trailing bytes other than white space are an error.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> VarlinkValue {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw parser.error("trailing characters") }
        return value
    }

    private static func write(_ value: VarlinkValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .int(let i): out += Array(String(i).utf8)
        case .double(let d): out += Array((d.isFinite ? String(d) : "null").utf8)
        case .string(let s): writeString(s, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(fields[key] ?? .null, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += [hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        func error(_ reason: String) -> ParseError { ParseError(offset: index, reason: reason) }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ word: String) throws(ParseError) {
            for c in word.utf8 {
                guard index < bytes.count, bytes[index] == c else { throw error("expected \(word)") }
                index += 1
            }
        }

        mutating func value(depth: Int) throws(ParseError) -> VarlinkValue {
            guard depth < JSONText.maxDepth else { throw error("nested too deeply") }
            guard index < bytes.count else { throw error("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return try number()
            }
        }

        mutating func object(depth: Int) throws(ParseError) -> VarlinkValue {
            index += 1
            var fields: [String: VarlinkValue] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipSpace()
                try expect(":")
                skipSpace()
                guard fields[key] == nil else { throw error("duplicate key") }
                fields[key] = try value(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("}")
                return .object(fields)
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> VarlinkValue {
            index += 1
            var values: [VarlinkValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(values) }
            while true {
                skipSpace()
                values.append(try value(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw error("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("]")
                return .array(values)
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard index < bytes.count else { throw error("unexpected end") }
                guard let d = Hex.value(bytes[index]) else { throw error("bad \\u escape") }
                v = v << 4 | UInt32(d)
                index += 1
            }
            return v
        }

        mutating func string() throws(ParseError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let c = bytes[index]
                index += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not UTF-8") }
                    return s
                case 0..<0x20:
                    throw error("control character in string")
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw error("unterminated string") }
                    let e = bytes[index]
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            try expect("\\u")
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("lone surrogate") }
                        out += Array(String(Character(u)).utf8)
                    default: throw error("bad escape")
                    }
                default:
                    out.append(c)
                }
            }
        }

        /// RFC 8259's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        mutating func number() throws(ParseError) -> VarlinkValue {
            let start = index
            func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") }
            func digits() throws(ParseError) {
                guard isDigit(index) else { throw error(index == start ? "unexpected character" : "bad number") }
                while isDigit(index) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { index = start; throw error("unexpected character") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                guard !isDigit(index) else { throw error("bad number: a leading zero") }
            } else {
                try digits()
            }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                integral = false
                try digits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                integral = false
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                try digits()
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if integral, let i = Int64(text) { return .int(i) }
            if !integral, let i = Self.exactInteger(bytes[start..<index]) { return .int(i) }
            guard let d = Double(text), d.isFinite else { index = start; throw error("bad number") }
            // A value that rounds to an integer is one (-0.0 is 0): what
            // is written back reads back as the same case.
            if d == d.rounded(), let i = Int64(exactly: d) { return .int(i) }
            return .double(d)
        }

        /// A number written with a fraction or an exponent whose value is
        /// a non-zero integer that fits in `Int64` (`1e3`, `2.50e1`,
        /// `77777777777777e3`), exactly, as Foundation's reader gives it;
        /// nil for any other. `number` has checked the grammar.
        static func exactInteger(_ number: ArraySlice<UInt8>) -> Int64? {
            var negative = false
            var digits: [UInt8] = []
            var exponent = 0
            var i = number.startIndex
            if number[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            while i < number.endIndex, number[i] >= UInt8(ascii: "0"), number[i] <= UInt8(ascii: "9") {
                digits.append(number[i] - UInt8(ascii: "0")); i += 1
            }
            if i < number.endIndex, number[i] == UInt8(ascii: ".") {
                i += 1
                while i < number.endIndex, number[i] >= UInt8(ascii: "0"), number[i] <= UInt8(ascii: "9") {
                    digits.append(number[i] - UInt8(ascii: "0")); exponent -= 1; i += 1
                }
            }
            if i < number.endIndex {  // e or E
                i += 1
                var sign = 1
                if number[i] == UInt8(ascii: "-") { sign = -1; i += 1 } else if number[i] == UInt8(ascii: "+") { i += 1 }
                var e = 0
                while i < number.endIndex {
                    e = min(e * 10 + Int(number[i] - UInt8(ascii: "0")), 1_000_000)
                    i += 1
                }
                exponent += sign * e
            }
            while exponent < 0, let last = digits.last, last == 0 { digits.removeLast(); exponent += 1 }
            let significant = digits.drop(while: { $0 == 0 })
            guard !significant.isEmpty, exponent >= 0, significant.count + exponent <= 19 else { return nil }
            var value: Int64 = 0
            for digit in significant + [UInt8](repeating: 0, count: exponent) {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = negative ? times10.subtractingReportingOverflow(Int64(digit)) : times10.addingReportingOverflow(Int64(digit))
                guard !o1, !o2 else { return nil }
                value = next
            }
            return value
        }
    }
}
