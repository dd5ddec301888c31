#if canImport(Glibc)
import Glibc
#endif

/// Why a code was not sent. Every case says plainly what happened; none
/// carries the code.
public enum ChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No plugin for this kind in the channels directory.
    case notInstalled(path: String)
    /// The plugin or a directory above it fails a safety check.
    case unsafe(path: String, reason: String)
    /// The plugin could not be started.
    case spawnFailed(path: String, errno: Int32)
    /// The plugin exited with a non-zero status; `output` is the start of
    /// what it printed (code removed, printable ASCII only).
    case failed(path: String, status: Int32, output: String)
    /// The plugin was killed by a signal.
    case killed(path: String, signal: Int32)
    /// The plugin did not finish within the time limit and was killed.
    case timedOut(path: String, seconds: Int)
    /// The plugin's end could not be observed (it was reaped by someone else).
    case lost(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .notInstalled(let p): "no channel plugin at \(p)"
        case .unsafe(let p, let r): "refusing channel plugin \(p): \(r)"
        case .spawnFailed(let p, let e): "cannot run channel plugin \(p): \(String(cString: strerror(e)))"
        case .failed(let p, let s, let o): "channel plugin \(p) exited with status \(s)" + (o.isEmpty ? "" : ": \(o)")
        case .killed(let p, let s): "channel plugin \(p) was killed by signal \(s)"
        case .timedOut(let p, let s): "channel plugin \(p) did not finish within \(s) seconds and was killed"
        case .lost(let p, let e): "lost track of channel plugin \(p): \(String(cString: strerror(e)))"
        }
    }

    /// True for a time-out (the user is told the service did not answer).
    public var isTimeout: Bool {
        if case .timedOut = self { return true }
        return false
    }
}
