#if canImport(Glibc)
import Glibc
#endif

/// Why the system configuration file (twostep.conf, SPEC §7) cannot be
/// used. Every case names the file; a line's problem names the line
/// (1-based), as compilers do:
///
///     /etc/twostep/twostep.conf:7: unknown key 'windw'
///
/// The module logs the description and denies every login until the file
/// is fixed; the CLI and twostepd print it and exit 2.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A line is wrong: no `=`, an unknown key, a key given twice, a bad
    /// value, a byte that is not text. `reason` says which.
    case invalidLine(path: String, line: Int, reason: String)
    /// The file fails a safety check (not a regular file, not owned by
    /// root, writable by group or others, too large); `reason` says which.
    case unsafe(path: String, reason: String)
    /// A system call on the file failed (a missing file is not an error:
    /// it means the built-in defaults).
    case io(path: String, operation: String, errno: Int32)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .invalidLine(let p, _, _), .unsafe(let p, _), .io(let p, _, _): p
        }
    }

    /// The line the error is about, nil for an error about the whole file.
    public var line: Int? {
        if case .invalidLine(_, let line, _) = self { return line }
        return nil
    }

    public var description: String {
        switch self {
        case .invalidLine(let p, let line, let reason): "\(p):\(line): \(reason)"
        case .unsafe(let p, let reason): "\(p): \(reason)"
        case .io(let p, let operation, let e): "\(p): \(operation): \(String(cString: strerror(e)))"
        }
    }
}
