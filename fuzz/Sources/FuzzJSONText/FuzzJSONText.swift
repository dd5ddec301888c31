import FuzzSupport
import TwoStepWire

/// The module's JSON reader (TwoStepWire.JSONText), which reads twostepd's
/// replies: any bytes parse or throw, never crash; what parses is written
/// back and parses again to the same value, and that text is stable (a
/// second write gives the same bytes).
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
    return 0
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
