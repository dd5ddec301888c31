import FuzzSupport
import TwoStepCore

/// Base32 (RFC 4648): arbitrary text that decodes re-encodes to text that
/// decodes to the same bytes; arbitrary bytes encode (as a reference
/// encoder written here does) and decode back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let bytes = input.rest()
    // 1. bytes → encode → decode
    let encoded = Base32.encode(bytes)
    require(encoded == Reference.base32(bytes), "encode differs from the reference")
    do {
        let decoded = try Base32.decode(encoded)
        require(decoded == bytes, "decode(encode(b)) != b")
        let lower = try Base32.decode(encoded.lowercased())
        require(lower == bytes, "lower case decodes differently")
    } catch {
        require(false, "decode(encode(b)) threw \(error)")
    }
    // 2. text → decode → encode → decode
    let text = String(decoding: bytes, as: UTF8.self)
    if let decoded = try? Base32.decode(text) {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz234567= ")
        require(text.allSatisfy { alphabet.contains($0) }, "decoded text with a character outside the alphabet")
        let significant = text.filter { $0 != " " && $0 != "=" }.count
        require(decoded.count == significant * 5 / 8, "decoded length \(decoded.count) for \(significant) characters")
        require((try? Base32.decode(Base32.encode(decoded))) == decoded, "decode(encode(decode(t))) != decode(t)")
    }
    return 0
}
