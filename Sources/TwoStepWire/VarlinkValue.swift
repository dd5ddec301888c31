/// A JSON value as Varlink carries it: the parameters of an error, or any
/// part of a message whose shape the code handling it does not know.
///
/// Written with literals, `["message": "wrong code", "failures": 2]` is a
/// `[String: VarlinkValue]`. Integers that fit in `Int64` stay integers
/// (exact); other numbers are `Double`.
public enum VarlinkValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([VarlinkValue])
    case object([String: VarlinkValue])
}

extension VarlinkValue {
    public init(_ value: String) { self = .string(value) }
    public init(_ value: Bool) { self = .bool(value) }
    public init(_ value: some BinaryInteger) {
        if let exact = Int64(exactly: value) {
            self = .int(exact)
        } else {
            self = .double(Double(value))
        }
    }
    public init(_ value: Double) { self = .double(value) }
    public init(_ values: [VarlinkValue]) { self = .array(values) }
    public init(_ fields: [String: VarlinkValue]) { self = .object(fields) }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as an integer: an `.int`, or a `.double` with no fraction.
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value): return Int64(exactly: value)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    public var arrayValue: [VarlinkValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var objectValue: [String: VarlinkValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The field `key` of an object; nil for a missing field or a value that is not an object.
    public subscript(key: String) -> VarlinkValue? {
        objectValue?[key]
    }
}

extension VarlinkValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: VarlinkValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, VarlinkValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension VarlinkValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let values = try? container.decode([VarlinkValue].self) {
            self = .array(values)
        } else {
            self = .object(try container.decode([String: VarlinkValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value):
            // JSON has no NaN or infinity.
            if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let fields): try container.encode(fields)
        }
    }
}
