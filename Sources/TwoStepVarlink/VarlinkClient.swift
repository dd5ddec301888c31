import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A blocking Varlink client over a Unix socket, for the CLI.
///
/// Each call opens its own connection, sends one message and reads one
/// reply, within `timeout` seconds in all (connecting included); then the
/// connection is closed. Plain POSIX sockets: no Foundation networking, no
/// threads, no signals (writes use MSG_NOSIGNAL).
public struct VarlinkClient: Sendable {
    /// 1 MiB: the longest reply accepted.
    public static let replyLimit = 1 << 20

    public let socketPath: String
    public let timeout: Double

    public init(socketPath: String, timeout: Double = 30) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Calls `method` (fully qualified, e.g. `io.twostep.Manage.Status`).
    ///
    /// - Parameter parameters: a JSON object text.
    /// - Returns: the JSON object text of the reply's parameters (`{}` when it had none).
    /// - Throws: `.reply` for an error reply; the other cases when the
    ///   service could not be reached or did not answer properly.
    public func call(_ method: String, parameters: Data = Data("{}".utf8)) throws(VarlinkClientError) -> Data {
        guard parameters.first(where: { !Self.isJSONSpace($0) }) == UInt8(ascii: "{") else {
            throw .invalidRequest(path: socketPath, reason: "the parameters are not a JSON object")
        }
        let message = VarlinkCall(method: method, parameters: parameters).encoded()
        let replyBytes = try exchange(message)
        let reply: VarlinkReply
        do {
            reply = try VarlinkReply.parse(replyBytes)
        } catch {
            throw .invalidReply(path: socketPath, reason: error.description)
        }
        switch reply.result {
        case .success(let parameters): return parameters
        case .failure(let error): throw .reply(error)
        }
    }

    /// Calls `method` with `parameters` encoded as JSON and decodes the
    /// reply's parameters as `type`.
    public func call<Parameters: Encodable, Reply: Decodable>(
        _ method: String, _ parameters: Parameters, returning type: Reply.Type
    ) throws(VarlinkClientError) -> Reply {
        let data: Data
        do {
            data = try VarlinkCoding.encode(parameters)
        } catch {
            throw .invalidRequest(path: socketPath, reason: "the parameters do not encode as a JSON object")
        }
        let reply = try call(method, parameters: data)
        do {
            return try JSONDecoder().decode(Reply.self, from: reply)
        } catch let error as DecodingError {
            throw .invalidReply(path: socketPath, reason: "unexpected parameters (\(VarlinkCoding.fieldName(of: error)))")
        } catch {
            throw .invalidReply(path: socketPath, reason: "unexpected parameters")
        }
    }

    // MARK: - The connection

    /// Connects, sends `message`, and returns the first reply message (without its NUL).
    private func exchange(_ message: [UInt8]) throws(VarlinkClientError) -> [UInt8] {
        let deadline = Self.now() + max(timeout, 0)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system(path: socketPath, operation: "socket", errno: errno) }
        defer { close(fd) }
        try connect(fd, deadline: deadline)
        try send(fd, message, deadline: deadline)
        return try receive(fd, deadline: deadline)
    }

    private func connect(_ fd: Int32, deadline: Double) throws(VarlinkClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity, !path.contains(0) else {
            throw .system(path: socketPath, operation: "connect", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + 1)
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
                guard Self.now() < deadline else { throw .timedOut(path: socketPath, seconds: timeout) }
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
        case ENOENT, ENOTDIR: .noSocket(path: socketPath)
        case ECONNREFUSED: .connectionRefused(path: socketPath)
        case EACCES, EPERM: .permissionDenied(path: socketPath)
        default: .system(path: socketPath, operation: "connect", errno: code)
        }
    }

    private func send(_ fd: Int32, _ message: [UInt8], deadline: Double) throws(VarlinkClientError) {
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
            case EPIPE, ECONNRESET: throw .connectionClosed(path: socketPath)
            case let code: throw .system(path: socketPath, operation: "send to", errno: code)
            }
        }
    }

    private func receive(_ fd: Int32, deadline: Double) throws(VarlinkClientError) -> [UInt8] {
        var framer = VarlinkFramer(limit: Self.replyLimit)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do {
                if let message = try framer.nextMessage() { return message }
            } catch {
                throw .replyTooLarge(path: socketPath, limit: Self.replyLimit)
            }
            try wait(fd, for: Int16(POLLIN), deadline: deadline)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                framer.append(chunk[..<count])
            } else if count == 0 {
                throw .connectionClosed(path: socketPath)
            } else {
                switch errno {
                case EINTR, EAGAIN: continue
                case ECONNRESET: throw .connectionClosed(path: socketPath)
                case let code: throw .system(path: socketPath, operation: "receive from", errno: code)
                }
            }
        }
    }

    /// Waits until `fd` is ready for `events` (or hung up) or the deadline passes.
    private func wait(_ fd: Int32, for events: Int16, deadline: Double) throws(VarlinkClientError) {
        while true {
            let remaining = deadline - Self.now()
            guard remaining > 0 else { throw .timedOut(path: socketPath, seconds: timeout) }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(min((remaining * 1000).rounded(.up), Double(Int32.max)))
            let rc = poll(&entry, 1, milliseconds)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR {
                throw .system(path: socketPath, operation: "poll", errno: errno)
            }
        }
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
