import TwoStepCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI writes: results on standard output, everything meant for
/// the person (prompts, notes, errors) on standard error, so that `--json`
/// output stays one clean object.
///
/// Nothing reaches the terminal raw: every line goes through
/// `PrintableText.escaped` (control and invisible formatting characters
/// as `\u{1B}`-style escapes; the program's own line feeds and tabs kept), JSON
/// through `PrintableText.escapedJSON`. A value from a record is escaped
/// whole where it is put into a line (`Console.field`), line feeds too.
enum Console {
    /// A line on standard output.
    static func out(_ line: String = "") {
        print(PrintableText.escaped(line, keepingLayout: true))
    }

    /// A JSON text on standard output, as one line.
    static func json(_ text: String) {
        print(PrintableText.escapedJSON(text))
    }

    /// A value from a record as it goes into a line: escaped whole, so that
    /// not even a line feed in it reaches the terminal.
    static func field(_ value: String) -> String {
        PrintableText.escaped(value)
    }

    /// A line on standard error.
    static func error(_ line: String) {
        note(line + "\n")
    }

    /// Text on standard error as it is (no newline added).
    static func note(_ text: String) {
        fflush(nil)  // what went to standard output first comes first
        var bytes = Array(PrintableText.escaped(text, keepingLayout: true).utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            bytes = bytes.dropFirst(n)
        }
    }
}
