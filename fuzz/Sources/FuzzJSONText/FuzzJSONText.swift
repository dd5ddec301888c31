import FoundationEssentials
import FuzzSupport
import TwoStepWire

/// The module's JSON reader (TwoStepWire.JSONText), which reads twostepd's
/// replies (and, through VarlinkCall.parse/VarlinkReply.parse, twostepd's
/// and the CLI's messages): any bytes parse or throw, never crash; what
/// parses is written back and parses again to the same value, and that
/// text is stable (a second write gives the same bytes). Differential:
/// what JSONText reads, Foundation's JSONDecoder (which decodes the typed
/// parameters) reads as the same value. Foundation also takes some texts
/// JSONText refuses (a trailing comma, a byte order mark, a key twice:
/// JSONAgreementTests), so only this direction is checked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let bytes = input.rest()
    guard let value = try? JSONText.parse(bytes) else { return 0 }
    let text = JSONText.serialize(value)
    guard let again = try? JSONText.parse(text) else {
        require(false, "the writer's text does not parse: \(String(decoding: text, as: UTF8.self))")
        return 0
    }
    require(again == value || hasNaN(value), "round trip changed the value")
    require(JSONText.serialize(again) == text, "a second write differs")
    let foundation = try? JSONDecoder().decode(VarlinkValue.self, from: Data(bytes))
    require(foundation.map { same($0, value) } ?? false,
            "Foundation reads \(foundation.map { "\($0)" } ?? "nothing"), JSONText \(value)")
    return 0
}

/// Equal as JSON values, numbers at the precision RFC 8259 (§6) says
/// readers can expect of each other, a Double's: an integer or a double,
/// the same number; beyond 2^53, within one unit of a Double's precision
/// (Foundation reads -26600000000000002.1 as the integer -26600000000000002,
/// JSONText as the Double nearest: JSONAgreementTests).
private func same(_ a: VarlinkValue, _ b: VarlinkValue) -> Bool {
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

/// Doubles that print and read back differently cannot occur (JSON has no
/// NaN); kept as a guard for the comparison above.
private func hasNaN(_ value: VarlinkValue) -> Bool {
    switch value {
    case .double(let d): return d.isNaN
    case .array(let a): return a.contains(where: hasNaN)
    case .object(let o): return o.values.contains(where: hasNaN)
    default: return false
    }
}
