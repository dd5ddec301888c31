import FuzzSupport
import TwoStepCore

/// The factor-file parser on arbitrary bytes (as the store gives it: valid
/// UTF-8 only). A file that parses writes a text that parses again to the
/// same file and the same text (the writer and the parser agree), and the
/// writer's text is what the strict parser accepts (printable ASCII lines).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    guard let text = String(validating: input.rest(), as: UTF8.self) else { return 0 }
    guard let file = try? FactorFile(parsing: text) else { return 0 }
    let written = file.text
    require(written.utf8.allSatisfy { $0 == 10 || ($0 >= 0x20 && $0 < 0x7f) }, "writer produced a non-printable byte")
    let again: FactorFile
    do { again = try FactorFile(parsing: written) } catch {
        require(false, "written file does not parse: \(error)\n\(written)")
        return 0
    }
    require(again.text == written, "parse(write(f)) != f:\n\(written)\n---\n\(again.text)")
    require(again.factors.count == file.factors.count, "factor count changed")
    require(again.trustedDevices.count == file.trustedDevices.count, "trusted device count changed")
    require(again.failures == file.failures, "failure state changed")
    require(again.isEnabled == file.isEnabled, "isEnabled changed")
    return 0
}
