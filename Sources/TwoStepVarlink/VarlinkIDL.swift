/// Reading an interface description (the Varlink IDL, varlink.org's
/// grammar): what the server needs from one, and what the tests check our
/// interfaces' descriptions with. The descriptions are twostep's own
/// (`ManageProtocol.idl`, `LoginProtocol.idl`); the tests also check them
/// against a real Varlink client's parser (Python's `varlink`).
public enum VarlinkIDL {
    /// A field of a struct, a method's parameters or reply, or an error's parameters.
    public struct Field: Sendable, Hashable {
        public let name: String
        public let type: FieldType
    }

    /// A field's type as the IDL spells it.
    public indirect enum FieldType: Sendable, Hashable {
        case bool, int, float, string, object
        /// `?T`: may be null or absent.
        case optional(FieldType)
        /// `[]T`
        case array(FieldType)
        /// `[string]T`
        case map(FieldType)
        /// A type the interface declares (`type Name ...`).
        case named(String)
        /// `(name: T, ...)`
        case structure([Field])
        /// `(a, b, c)`
        case enumeration([String])

        /// The names of the declared types this type refers to.
        public var references: Set<String> {
            switch self {
            case .bool, .int, .float, .string, .object, .enumeration: []
            case .optional(let t), .array(let t), .map(let t): t.references
            case .named(let name): [name]
            case .structure(let fields): fields.reduce(into: []) { $0.formUnion($1.type.references) }
            }
        }
    }

    /// A method: its parameters and the fields of its reply, in order.
    public struct Method: Sendable, Hashable {
        public let name: String
        public let parameters: [Field]
        public let reply: [Field]
    }

    /// An interface description, read.
    public struct Interface: Sendable, Hashable {
        /// The name on the `interface` line.
        public let name: String
        /// `type NAME ...`, by name.
        public let types: [String: FieldType]
        /// `method NAME(...) -> (...)`, by short name.
        public let methods: [String: Method]
        /// `error NAME (...)`, by short name: their parameters.
        public let errors: [String: [Field]]
    }

    /// Why a text is not an interface description.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The 1-based line where it went wrong.
        public let line: Int
        public let reason: String
        public var description: String { "interface description, line \(line): \(reason)" }
    }

    /// Reads a whole interface description.
    /// - Throws: `ParseError` at the first thing the grammar does not
    ///   allow, or a name declared twice.
    public static func parse(_ idl: String) throws(ParseError) -> Interface {
        var reader = Reader(Array(idl.utf8))
        return try reader.interface()
    }

    /// The interface name on the `interface NAME` line; nil when the text
    /// is not an interface description.
    public static func interfaceName(in idl: String) -> String? {
        (try? parse(idl))?.name
    }

    /// The short names of the methods declared; none when the text is not
    /// an interface description (the server then answers MethodNotFound to
    /// every call: the tests parse every description twostepd serves).
    public static func methodNames(in idl: String) -> Set<String> {
        guard let interface = try? parse(idl) else { return [] }
        return Set(interface.methods.keys)
    }

    /// The parameter names of each method of `Method` (an interface's
    /// methods by short name) as `interface` declares them, for
    /// `VarlinkCoding.decode(_:from:fields:)`. A method the interface does
    /// not declare, or a nil interface, gives no entry: the caller then
    /// accepts no parameter at all.
    public static func parameterNames<Method: VarlinkMember>(of interface: Interface?) -> [Method: Set<String>] {
        var names: [Method: Set<String>] = [:]
        for method in Method.allCases {
            if let declared = interface?.methods[method.rawValue] { names[method] = Set(declared.parameters.map(\.name)) }
        }
        return names
    }

    /// A tokenizer and recursive-descent reader over the IDL's bytes.
    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func error(_ reason: String) -> ParseError { ParseError(line: line, reason: reason) }

        /// Skips white space and `#` comments.
        mutating func skip() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\n"): line += 1; index += 1
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): index += 1
                case UInt8(ascii: "#"):
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                default: return
                }
            }
        }

        static func isNameByte(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "-")
        }

        /// A name (letters, digits, `_`; the interface name also `.` and `-`).
        mutating func name(_ what: String) throws(ParseError) -> String {
            skip()
            let start = index
            while index < bytes.count, Self.isNameByte(bytes[index]) { index += 1 }
            guard index > start else { throw error("expected \(what)") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Whether the next token is `word` (consumed if so).
        mutating func take(_ word: String) -> Bool {
            skip()
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { return false }
            index += w.count
            return true
        }

        mutating func expect(_ word: String) throws(ParseError) {
            guard take(word) else { throw error("expected '\(word)'") }
        }

        mutating func interface() throws(ParseError) -> Interface {
            guard try name("'interface'") == "interface" else { throw error("expected 'interface'") }
            let interfaceName = try name("the interface name")
            var types: [String: FieldType] = [:]
            var methods: [String: Method] = [:]
            var errors: [String: [Field]] = [:]
            var declared: Set<String> = []
            while true {
                skip()
                if index == bytes.count { break }
                let keyword = try name("'type', 'method' or 'error'")
                let member = try name("a name after '\(keyword)'")
                guard declared.insert(member).inserted else { throw error("\(member) is declared twice") }
                switch keyword {
                case "type":
                    types[member] = try parenthesized(allowEnum: true)
                case "method":
                    let parameters = try fields()
                    try expect("->")
                    methods[member] = Method(name: member, parameters: parameters, reply: try fields())
                case "error":
                    errors[member] = try fields()
                default:
                    throw error("expected 'type', 'method' or 'error', not '\(keyword)'")
                }
            }
            return Interface(name: interfaceName, types: types, methods: methods, errors: errors)
        }

        /// `(name: T, ...)`.
        mutating func fields() throws(ParseError) -> [Field] {
            guard case .structure(let fields) = try parenthesized(allowEnum: false) else { throw error("expected fields") }
            return fields
        }

        /// `(name: T, ...)` or, when allowed, `(a, b, ...)`; `()` is an empty struct.
        mutating func parenthesized(allowEnum: Bool) throws(ParseError) -> FieldType {
            try expect("(")
            if take(")") { return .structure([]) }
            var fields: [Field] = []
            var cases: [String] = []
            repeat {
                let member = try name("a field name")
                if take(":") {
                    guard cases.isEmpty else { throw error("an enum's values have no type") }
                    guard !fields.contains(where: { $0.name == member }) else { throw error("field \(member) twice") }
                    fields.append(Field(name: member, type: try type()))
                } else {
                    guard allowEnum, fields.isEmpty else { throw error("expected ':' after \(member)") }
                    guard !cases.contains(member) else { throw error("value \(member) twice") }
                    cases.append(member)
                }
            } while take(",")
            try expect(")")
            return cases.isEmpty ? .structure(fields) : .enumeration(cases)
        }

        mutating func type() throws(ParseError) -> FieldType {
            if take("?") {
                let inner = try type()
                if case .optional = inner { throw error("'??'") }
                return .optional(inner)
            }
            if take("[]") { return .array(try type()) }
            if take("[string]") { return .map(try type()) }
            skip()
            if index < bytes.count, bytes[index] == UInt8(ascii: "(") { return try parenthesized(allowEnum: true) }
            switch try name("a type") {
            case "bool": return .bool
            case "int": return .int
            case "float": return .float
            case "string": return .string
            case "object": return .object
            case let other: return .named(other)
            }
        }
    }
}
