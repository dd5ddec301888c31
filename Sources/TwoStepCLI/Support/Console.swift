#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI writes: results on standard output, everything meant for
/// the person (prompts, notes, errors) on standard error, so that `--json`
/// output stays one clean object.
enum Console {
    /// A line on standard output.
    static func out(_ line: String = "") {
        print(line)
    }

    /// A line on standard error.
    static func error(_ line: String) {
        note(line + "\n")
    }

    /// Text on standard error as it is (no newline added).
    static func note(_ text: String) {
        fflush(nil)  // what went to standard output first comes first
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
