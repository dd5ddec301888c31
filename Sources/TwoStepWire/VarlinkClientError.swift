#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a `VarlinkClient` call gave no result. Every case but `reply` is a
/// failure to talk to the service, and says which socket.
public enum VarlinkClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The service answered with this error.
    case reply(VarlinkError)
    /// No socket at the path (ENOENT, ENOTDIR): the service is not set up or not started.
    case noSocket(path: String)
    /// A socket file with nobody listening (ECONNREFUSED): the service stopped.
    case connectionRefused(path: String)
    /// The caller may not connect (EACCES, EPERM).
    case permissionDenied(path: String)
    /// No complete reply within the client's time limit.
    case timedOut(path: String, seconds: Double)
    /// The service closed the connection before a complete reply.
    case connectionClosed(path: String)
    /// The reply exceeded `limit` bytes.
    case replyTooLarge(path: String, limit: Int)
    /// The reply was not a Varlink reply, or its parameters not what the caller expected.
    case invalidReply(path: String, reason: String)
    /// The call could not be written (its parameters not a JSON object).
    case invalidRequest(path: String, reason: String)
    /// Any other system call failure: `operation` failed with `errno`.
    case system(path: String, operation: String, errno: Int32)
    /// The process listening on the socket runs as `uid`, not as the
    /// `expected` one (`VarlinkSocket.peerUID`): nothing was sent to it.
    case untrustedPeer(path: String, uid: UInt32, pid: Int32, expected: UInt32)

    /// The service is not there to answer (no socket, or nobody listening):
    /// the case for "start twostepd.socket".
    public var isServiceUnavailable: Bool {
        switch self {
        case .noSocket, .connectionRefused: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .reply(let error):
            return error.description
        case .noSocket(let path):
            return "no socket at \(path)"
        case .connectionRefused(let path):
            return "nothing is listening on \(path) (connection refused)"
        case .permissionDenied(let path):
            return "permission denied connecting to \(path)"
        case .timedOut(let path, let seconds):
            return "no reply from \(path) within \(Self.format(seconds)) s"
        case .connectionClosed(let path):
            return "\(path) closed the connection before replying"
        case .replyTooLarge(let path, let limit):
            return "the reply from \(path) is longer than \(limit) bytes"
        case .invalidReply(let path, let reason):
            return "invalid reply from \(path): \(reason)"
        case .invalidRequest(let path, let reason):
            return "cannot send the call to \(path): \(reason)"
        case .system(let path, let operation, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .untrustedPeer(let path, let uid, let pid, let expected):
            return "the process listening on \(path) (pid \(pid)) runs as uid \(uid), not uid \(expected): not trusted, nothing sent"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
