import FoundationEssentials
import TwoStepCore

/// `--json` output: one object on standard output, keys in snake_case;
/// control and invisible formatting characters as JSON `\u` escapes.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Console.json(String(decoding: data, as: UTF8.self))
    }
}
