import FoundationEssentials

/// JSON for Varlink parameters: what an interface uses to read a call's
/// parameters and write its reply.
public enum VarlinkCoding {
    /// Decodes a call's parameters (a JSON object text) as `type`.
    ///
    /// - Parameter fields: the keys the method knows. A key outside it is
    ///   refused (`InvalidParameter` naming it); nil accepts any key.
    /// - Throws: `org.varlink.service.InvalidParameter` naming the first
    ///   missing, unknown or ill-typed field. Values never appear in the error.
    public static func decode<T: Decodable>(
        _ type: T.Type, from parameters: Data, fields: Set<String>? = nil
    ) throws(VarlinkError) -> T {
        if let fields {
            guard case .object(let object)? = try? JSONDecoder().decode(VarlinkValue.self, from: parameters) else {
                throw .invalidParameter("parameters")
            }
            if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
                throw .invalidParameter(unknown)
            }
        }
        do {
            return try JSONDecoder().decode(T.self, from: parameters)
        } catch let error as DecodingError {
            throw .invalidParameter(fieldName(of: error))
        } catch {
            throw .invalidParameter("parameters")
        }
    }

    /// The JSON object text of `value`, for a reply's parameters.
    /// - Throws: `InvalidParameter("reply")` when `value` does not encode
    ///   as a JSON object (a non-finite Double, a bare array).
    public static func encode(_ value: some Encodable) throws(VarlinkError) -> Data {
        guard let data = try? encoder().encode(value), data.first == UInt8(ascii: "{") else {
            throw .invalidParameter("reply")
        }
        return data
    }

    /// The JSON text of a value.
    public static func data(of value: VarlinkValue) -> Data {
        // Cannot fail: a VarlinkValue writes a non-finite Double as null.
        (try? encoder().encode(value)) ?? Data("null".utf8)
    }

    /// `value` as a VarlinkValue (through its JSON encoding).
    public static func value(of value: some Encodable) throws -> VarlinkValue {
        try JSONDecoder().decode(VarlinkValue.self, from: encoder().encode(value))
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The dotted path of the field a DecodingError is about.
    static func fieldName(of error: DecodingError) -> String {
        let path: [any CodingKey]
        switch error {
        case .keyNotFound(let key, let context): path = context.codingPath + [key]
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        @unknown default: path = []
        }
        let name = path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return name.isEmpty ? "parameters" : name
    }
}
