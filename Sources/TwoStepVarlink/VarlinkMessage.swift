import FoundationEssentials

/// A decoded call: `{"method": "io.x.Y", "parameters": {...}, "oneway": bool, "more": bool, "upgrade": bool}`.
public struct VarlinkCall: Sendable, Hashable {
    /// The fully qualified method name, e.g. `io.twostep.Manage.Status`.
    public var method: String
    /// The JSON object text of the parameters; `{}` when absent.
    public var parameters: Data
    /// No reply is wanted.
    public var oneway: Bool
    /// A stream of replies is wanted (not served by twostepd).
    public var more: Bool
    /// The connection is to change protocol (not served by twostepd).
    public var upgrade: Bool

    public init(method: String, parameters: Data = Data("{}".utf8), oneway: Bool = false,
                more: Bool = false, upgrade: Bool = false) {
        self.method = method
        self.parameters = parameters
        self.oneway = oneway
        self.more = more
        self.upgrade = upgrade
    }

    /// The interface part of `method` (before the last dot).
    public var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// The method's short name (after the last dot).
    public var shortMethod: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }

    /// Reads one message (without its NUL), with `JSONText`: RFC 8259 JSON
    /// only, read exactly as the PAM module reads it (Foundation's reader
    /// would take a trailing comma, a byte order mark and a key twice).
    ///
    /// Keys other than the five of a call are ignored, as the Varlink
    /// specification asks.
    /// - Throws: `.malformed` with the part that is wrong: `message` (not
    ///   JSON, not an object, not UTF-8), `method`, `parameters`, `oneway`,
    ///   `more` or `upgrade` (wrong type).
    public static func parse<Bytes: Collection<UInt8>>(_ message: Bytes) throws(VarlinkMessageError) -> VarlinkCall {
        guard case .object(let fields)? = try? JSONText.parse(Array(message)) else {
            throw .malformed("message")
        }
        guard case .string(let method)? = fields["method"] else { throw .malformed("method") }
        var call = VarlinkCall(method: method)
        switch fields["parameters"] {
        case nil, .null?: break
        case .object(let parameters)?: call.parameters = VarlinkCoding.data(of: .object(parameters))
        default: throw .malformed("parameters")
        }
        for (key, flag) in [("oneway", \VarlinkCall.oneway), ("more", \.more), ("upgrade", \.upgrade)] {
            switch fields[key] {
            case nil, .null?: break
            case .bool(let value)?: call[keyPath: flag] = value
            default: throw .malformed(key)
            }
        }
        return call
    }

    /// The message text of this call, NUL included.
    public func encoded() -> [UInt8] {
        var fields: [String: VarlinkValue] = ["method": .string(method)]
        if oneway { fields["oneway"] = true }
        if more { fields["more"] = true }
        if upgrade { fields["upgrade"] = true }
        var bytes = Array(VarlinkCoding.data(of: .object(fields)))
        // Splice the parameters text in as given: `{...}` → `{...,"parameters":P}`.
        bytes.removeLast()
        bytes.append(contentsOf: Array(#","parameters":"#.utf8))
        bytes.append(contentsOf: parameters.isEmpty ? Data("{}".utf8) : parameters)
        bytes.append(UInt8(ascii: "}"))
        bytes.append(0)
        return bytes
    }
}

/// A decoded reply: its parameters, or an error.
public struct VarlinkReply: Sendable, Hashable {
    /// The JSON object text of the parameters (`{}` when absent), or the error.
    public var result: Result<Data, VarlinkError>
    /// More replies follow (only for calls with `more`).
    public var continues: Bool

    public init(result: Result<Data, VarlinkError>, continues: Bool = false) {
        self.result = result
        self.continues = continues
    }

    /// The message text of a reply with these parameters, NUL included.
    /// `parameters` must be a JSON object text; empty means `{}`.
    public static func encode(parameters: Data) -> [UInt8] {
        var bytes = Array(#"{"parameters":"#.utf8)
        bytes.append(contentsOf: parameters.isEmpty ? Data("{}".utf8) : parameters)
        bytes.append(UInt8(ascii: "}"))
        bytes.append(0)
        return bytes
    }

    /// The message text of an error reply, NUL included.
    public static func encode(error: VarlinkError) -> [UInt8] {
        let message: VarlinkValue = ["error": .string(error.name), "parameters": .object(error.parameters)]
        return Array(VarlinkCoding.data(of: message)) + [0]
    }

    /// Reads one reply message (without its NUL), with `JSONText`, as
    /// `VarlinkCall.parse` does.
    /// - Throws: `.malformed` naming what is wrong.
    public static func parse<Bytes: Collection<UInt8>>(_ message: Bytes) throws(VarlinkMessageError) -> VarlinkReply {
        guard case .object(let fields)? = try? JSONText.parse(Array(message)) else {
            throw .malformed("message")
        }
        var continues = false
        switch fields["continues"] {
        case nil, .null?: break
        case .bool(let value)?: continues = value
        default: throw .malformed("continues")
        }
        let parameters: [String: VarlinkValue]
        switch fields["parameters"] {
        case nil, .null?: parameters = [:]
        case .object(let object)?: parameters = object
        default: throw .malformed("parameters")
        }
        switch fields["error"] {
        case nil, .null?:
            return VarlinkReply(result: .success(VarlinkCoding.data(of: .object(parameters))), continues: continues)
        case .string(let name)?:
            return VarlinkReply(result: .failure(VarlinkError(name: name, parameters: parameters)), continues: continues)
        default:
            throw .malformed("error")
        }
    }
}

public enum VarlinkMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message is not a well-formed Varlink message; the associated
    /// value names the part that is wrong (`message` for the whole).
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed("message"): "not a JSON object"
        case .malformed(let part): "bad \(part) field"
        }
    }
}
