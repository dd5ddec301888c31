#if canImport(Glibc)
import Glibc
#endif

/// Asks the questions a flag did not answer.
///
/// On a terminal the question goes to standard error and the answer is
/// typed (it echoes: a code is short-lived and single-use). When standard
/// input is not a terminal, answers are read from it one line per
/// question, so `printf '123456\n' | twostep verify` works; the question
/// is still written to standard error for the log.
enum Prompter {
    /// Asks `question` and returns the answer without surrounding spaces.
    /// Throws a usage error at end of input, naming `flag` as the
    /// non-interactive alternative.
    static func ask(_ question: String, flag: String) throws(CLIError) -> String {
        Console.note(question)
        let line = readLine(strippingNewline: true)
        if isatty(STDIN_FILENO) != 1 { Console.note("\n") }  // the answer did not echo
        guard let line else { throw .usage("no answer on standard input; give it with \(flag)") }
        return trimmed(line)
    }

    /// The value of an option given as `-` (`flag` names it): the next
    /// line of standard input, without surrounding spaces, no question
    /// asked. Such values are read before any question is asked.
    static func line(for flag: String) throws(CLIError) -> String {
        guard let line = readLine(strippingNewline: true) else {
            throw .usage("\(flag) -: no line on standard input")
        }
        let value = trimmed(line)
        guard !value.isEmpty else { throw .usage("\(flag) -: an empty line on standard input") }
        return value
    }

    private static func trimmed(_ line: String) -> String {
        String(line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
