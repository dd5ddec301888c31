#if canImport(Glibc)
import Glibc
#endif

/// sd_listen_fds(3) with names: the sockets systemd (or
/// systemd-socket-activate) passed, as `(name, descriptor)` from fd 3 on.
enum SocketActivation {
    struct PassedSocket: Sendable, Hashable {
        let name: String
        let descriptor: Int32
    }

    static let firstDescriptor: Int32 = 3

    /// The passed sockets, or nil when the environment passes none to this
    /// process (LISTEN_PID unset or another process's). Like sd_listen_fds
    /// with unset_environment, it removes LISTEN_PID, LISTEN_FDS and
    /// LISTEN_FDNAMES (channel plugins must not see them) and marks the
    /// descriptors close-on-exec.
    static func passedSockets() throws(DaemonError) -> [PassedSocket]? {
        let pid = environment("LISTEN_PID")
        let count = environment("LISTEN_FDS")
        let names = environment("LISTEN_FDNAMES")
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        guard let pid, let count else { return nil }
        guard let listenPID = Int32(pid), listenPID == getpid() else { return nil }
        guard let n = Int32(count), n >= 0, n < 1024 else {
            throw .activation("LISTEN_FDS=\(count) is not a number of sockets")
        }
        let nameList = names.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
            ?? Array(repeating: "unknown", count: Int(n))
        guard nameList.count == Int(n) else {
            throw .activation("LISTEN_FDNAMES has \(nameList.count) names for \(n) sockets")
        }
        var sockets: [PassedSocket] = []
        for (offset, name) in nameList.enumerated() {
            let fd = firstDescriptor + Int32(offset)
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { throw .activation("passed descriptor \(fd) (\(name)) is not open") }
            _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC)
            sockets.append(PassedSocket(name: name, descriptor: fd))
        }
        return sockets
    }

    /// Whether `fd` is a listening Unix stream socket (sd_is_socket_unix).
    static func isListeningUnixStream(_ fd: Int32) -> Bool {
        var type: Int32 = 0
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            return false
        }
        size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening != 0 else { return false }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return rc == 0 && Int32(address.ss_family) == AF_UNIX
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
