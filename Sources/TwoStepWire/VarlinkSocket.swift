#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One Varlink exchange over a Unix socket: connect, send one message,
/// read one reply, within `timeout` seconds in all (connecting included),
/// then close. Plain POSIX sockets, no Foundation: the PAM module's
/// twostepd client and the CLI's `VarlinkClient` both use it. No signals
/// (writes use MSG_NOSIGNAL), no threads.
public struct VarlinkSocket: Sendable {
    public let path: String
    public let timeout: Double
    /// The longest reply accepted, in bytes.
    public let replyLimit: Int
    /// When set, the uid the service must run as: once connected, the
    /// peer's credentials (`SO_PEERCRED`) are read and any other uid is
    /// `untrustedPeer`, before anything is sent. The module's fleet client
    /// requires 0: a socket in a `socket_dir=` that someone else could
    /// bind must not be able to answer a login.
    public let peerUID: UInt32?

    public init(path: String, timeout: Double, replyLimit: Int = 1 << 20, peerUID: UInt32? = nil) {
        self.path = path
        self.timeout = timeout
        self.replyLimit = replyLimit
        self.peerUID = peerUID
    }

    /// A connection kept open for several exchanges (the PAM module's
    /// Fetch and Store of one login), each within `timeout`. When the
    /// service closed it meanwhile (twostepd closes idle connections) and
    /// the exchange got no reply at all, it is made once more on a new
    /// connection: a service closes an idle connection only before reading
    /// from it, so the first try was not run.
    public final class Connection {
        public let socket: VarlinkSocket
        private var fd: Int32 = -1

        public init(_ socket: VarlinkSocket) { self.socket = socket }
        deinit { if fd >= 0 { close(fd) } }

        public func exchange(_ message: [UInt8]) throws(VarlinkClientError) -> [UInt8] {
            let reused = fd >= 0
            do {
                return try once(message)
            } catch .connectionClosed where reused {
                return try once(message)
            }
        }

        private func once(_ message: [UInt8]) throws(VarlinkClientError) -> [UInt8] {
            let deadline = VarlinkSocket.now() + max(socket.timeout, 0)
            do {
                if fd < 0 { fd = try socket.open(deadline: deadline) }
                try socket.send(fd, message, deadline: deadline)
                return try socket.receive(fd, deadline: deadline)
            } catch {
                if fd >= 0 { close(fd) }
                fd = -1
                throw error
            }
        }
    }

    /// A new connection, connected within `deadline`.
    func open(deadline: Double) throws(VarlinkClientError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system(path: path, operation: "socket", errno: errno) }
        do { try connect(fd, deadline: deadline) } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Connects, sends `message`, and returns the first reply message (without its NUL).
    public func exchange(_ message: [UInt8]) throws(VarlinkClientError) -> [UInt8] {
        let deadline = Self.now() + max(timeout, 0)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system(path: path, operation: "socket", errno: errno) }
        defer { close(fd) }
        try connect(fd, deadline: deadline)
        try send(fd, message, deadline: deadline)
        return try receive(fd, deadline: deadline)
    }

    /// Connects within `deadline`, then checks the peer (`peerUID`).
    private func connect(_ fd: Int32, deadline: Double) throws(VarlinkClientError) {
        try connectSocket(fd, deadline: deadline)
        guard let peerUID else { return }
        var credentials = PeerCredentials()
        var size = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0,
              size == socklen_t(MemoryLayout<PeerCredentials>.size) else {
            throw .system(path: path, operation: "read the peer credentials of", errno: errno)
        }
        guard credentials.uid == peerUID else {
            throw .untrustedPeer(path: path, uid: credentials.uid, pid: credentials.pid, expected: peerUID)
        }
    }

    /// `struct ucred` of <sys/socket.h> (pid_t, uid_t, gid_t), which Glibc's
    /// module leaves out without _GNU_SOURCE; same layout.
    private struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    private func connectSocket(_ fd: Int32, deadline: Double) throws(VarlinkClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !name.isEmpty, name.count < capacity, !name.contains(0) else {
            throw .system(path: path, operation: "connect", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: name)
            raw[name.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count + 1)
        while true {
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
            if rc == 0 { return }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                // The listen queue is full: the service is busy. Retry until the deadline.
                guard Self.now() < deadline else { throw .timedOut(path: path, seconds: timeout) }
                usleep(10_000)
            case EINPROGRESS:
                try wait(fd, for: Int16(POLLOUT), deadline: deadline)
                var code: Int32 = 0
                var size = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size)
                if code == 0 { return }
                throw connectError(code)
            case let code:
                throw connectError(code)
            }
        }
    }

    private func connectError(_ code: Int32) -> VarlinkClientError {
        switch code {
        case ENOENT, ENOTDIR: .noSocket(path: path)
        case ECONNREFUSED: .connectionRefused(path: path)
        case EACCES, EPERM: .permissionDenied(path: path)
        default: .system(path: path, operation: "connect", errno: code)
        }
    }

    func send(_ fd: Int32, _ message: [UInt8], deadline: Double) throws(VarlinkClientError) {
        var offset = 0
        while offset < message.count {
            let sent = message.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent >= 0 {
                offset += sent
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN: try wait(fd, for: Int16(POLLOUT), deadline: deadline)
            case EPIPE, ECONNRESET: throw .connectionClosed(path: path)
            case let code: throw .system(path: path, operation: "send to", errno: code)
            }
        }
    }

    func receive(_ fd: Int32, deadline: Double) throws(VarlinkClientError) -> [UInt8] {
        var framer = VarlinkFramer(limit: replyLimit)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do {
                if let message = try framer.nextMessage() { return message }
            } catch {
                throw .replyTooLarge(path: path, limit: replyLimit)
            }
            try wait(fd, for: Int16(POLLIN), deadline: deadline)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                framer.append(chunk[..<count])
            } else if count == 0 {
                throw .connectionClosed(path: path)
            } else {
                switch errno {
                case EINTR, EAGAIN: continue
                case ECONNRESET: throw .connectionClosed(path: path)
                case let code: throw .system(path: path, operation: "receive from", errno: code)
                }
            }
        }
    }

    /// Waits until `fd` is ready for `events` (or hung up) or the deadline passes.
    private func wait(_ fd: Int32, for events: Int16, deadline: Double) throws(VarlinkClientError) {
        while true {
            let remaining = deadline - Self.now()
            guard remaining > 0 else { throw .timedOut(path: path, seconds: timeout) }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(min((remaining * 1000).rounded(.up), Double(Int32.max)))
            let rc = poll(&entry, 1, milliseconds)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR {
                throw .system(path: path, operation: "poll", errno: errno)
            }
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

}
