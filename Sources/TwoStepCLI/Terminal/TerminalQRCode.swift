import CQRencode
#if canImport(Glibc)
import Glibc
#endif

/// A QR code drawn in a terminal with Unicode half blocks.
///
/// Each line of text carries two rows of modules (`▀` top, `▄` bottom,
/// `█` both, space neither). Light modules are drawn and dark ones left
/// blank, as `qrencode -t UTF8` does, which reads right on the usual
/// light-on-dark terminal; a quiet zone of `quietZone` light modules
/// surrounds the code.
struct TerminalQRCode {
    /// Light modules around the code.
    static let quietZone = 2

    /// The code's modules row by row, `true` for dark, without the quiet zone.
    let modules: [[Bool]]

    /// Encodes `text` as a QR code (byte mode, error correction level M,
    /// the smallest version that fits). The text may hold a secret: it is
    /// not kept beyond the modules.
    init(encoding text: String) throws(CLIError) {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            throw .failure("cannot draw the QR code: \(String(cString: strerror(errno)))")
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = code.pointee.data!
        modules = (0..<width).map { y in (0..<width).map { x in data[y * width + x] & 1 == 1 } }
    }

    /// The drawing, one line per two module rows, without a final newline.
    var text: String {
        let size = modules.count + 2 * Self.quietZone
        func light(_ x: Int, _ y: Int) -> Bool {
            let (mx, my) = (x - Self.quietZone, y - Self.quietZone)
            guard modules.indices.contains(my), modules.indices.contains(mx) else { return y < size }
            return !modules[my][mx]
        }
        var lines = [String]()
        for y in stride(from: 0, to: size, by: 2) {
            var line = ""
            for x in 0..<size {
                switch (light(x, y), light(x, y + 1)) {
                case (true, true): line += "█"
                case (true, false): line += "▀"
                case (false, true): line += "▄"
                case (false, false): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
