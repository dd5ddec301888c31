#if canImport(Glibc)
import Glibc
#endif

/// Sockets twostepd binds itself (`--socket-dir`, or /run/twostep without
/// socket activation).
enum SocketBinding {
    /// A socket bound at `path`; `device`/`inode` identify the file, so
    /// that on exit only our own socket is removed.
    struct BoundSocket: Sendable, Hashable {
        let path: String
        let descriptor: Int32
        let device: UInt64
        let inode: UInt64
    }

    /// Creates `directory` with mode 0755 when it is missing (an existing
    /// one is left as it is, but must be a directory).
    static func prepareDirectory(_ directory: String) throws(DaemonError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw .socket(path: directory, message: "not a directory")
            }
            return
        }
        guard errno == ENOENT else { throw .socket(path: directory, message: Self.error(errno)) }
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw .socket(path: directory, message: "cannot create: " + Self.error(errno))
        }
        // mkdir's mode went through the umask.
        _ = chmod(directory, 0o755)
    }

    /// Binds and listens on a Unix socket at `path` with file mode `mode`.
    ///
    /// A socket file already there is removed first when nobody listens on
    /// it (a stale one); a live one (another twostepd) or any other kind of
    /// file is an error. The socket is created with mode 0600 at most and
    /// only then opened up to `mode`: there is no moment when it is more
    /// open than asked.
    static func bind(path: String, mode: mode_t) throws(DaemonError) -> BoundSocket {
        let pathBytes = Array(path.utf8)
        var address = sockaddr_un()
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .socket(path: path, message: "path too long for a Unix socket")
        }
        try removeStale(path)
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(path: path, message: "socket: " + Self.error(errno)) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + 1)
        let previousMask = umask(0o177)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        let bindErrno = errno
        umask(previousMask)
        guard rc == 0 else {
            close(fd)
            throw .socket(path: path, message: "bind: " + Self.error(bindErrno))
        }
        var info = stat()
        guard chmod(path, mode) == 0, stat(path, &info) == 0, listen(fd, DaemonLimits.backlog) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw .socket(path: path, message: Self.error(code))
        }
        return BoundSocket(path: path, descriptor: fd, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Removes the socket file at `socket.path` if it is still ours.
    static func remove(_ socket: BoundSocket) {
        var info = stat()
        guard lstat(socket.path, &info) == 0, UInt64(info.st_dev) == socket.device,
            UInt64(info.st_ino) == socket.inode
        else { return }
        unlink(socket.path)
    }

    private static func removeStale(_ path: String) throws(DaemonError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .socket(path: path, message: Self.error(errno))
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .socket(path: path, message: "exists and is not a socket; not removed")
        }
        if isListening(path) {
            throw .socket(path: path, message: "another process is serving this socket")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .socket(path: path, message: "cannot remove the stale socket: " + Self.error(errno))
        }
    }

    /// Whether a connection to `path` is accepted (someone listens).
    private static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + 1)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        // EAGAIN: the listen queue is full, so someone is listening.
        return rc == 0 || errno == EAGAIN
    }

    static func error(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
