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

    /// Creates `directory` with mode 0755 when it is missing, then checks
    /// it: a directory itself (not a symbolic link), owned by root (the
    /// user twostepd runs as) and not writable by group or others. Anyone
    /// else able to write there could swap the socket files for links.
    static func prepareDirectory(_ directory: String) throws(DaemonError) {
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard errno == ENOENT else { throw .socket(path: directory, message: Self.error(errno)) }
            // The mode at creation: no chmod by path afterwards.
            let previousMask = umask(0o022)
            let rc = mkdir(directory, 0o755)
            let mkdirErrno = errno
            umask(previousMask)
            guard rc == 0 || mkdirErrno == EEXIST else {
                throw .socket(path: directory, message: "cannot create: " + Self.error(mkdirErrno))
            }
            guard lstat(directory, &info) == 0 else { throw .socket(path: directory, message: Self.error(errno)) }
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: throw .socket(path: directory, message: "is a symbolic link; give the directory itself")
        default: throw .socket(path: directory, message: "not a directory")
        }
        guard info.st_uid == geteuid() else {
            throw .socket(path: directory, message: "owned by uid \(info.st_uid), not by root (uid \(geteuid()))")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw .socket(path: directory, message: "writable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8)))")
        }
    }

    /// Binds and listens on a Unix socket at `path` with file mode `mode`.
    ///
    /// A socket file already there is removed first when nobody listens on
    /// it (a stale one); a live one (another twostepd) or any other kind of
    /// file is an error. The umask is set around bind(2) so that the socket
    /// file is made with `mode` itself: it is never more open than asked,
    /// and no mode is changed by path afterwards (a path that someone had
    /// swapped for a link would be followed).
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
        let previousMask = umask(~mode & 0o777)
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
        guard lstat(path, &info) == 0 else {
            let code = errno
            close(fd)
            throw .socket(path: path, message: Self.error(code))
        }
        guard info.st_mode & S_IFMT == S_IFSOCK, info.st_mode & 0o7777 == mode else {
            close(fd)
            throw .socket(path: path, message: "not the socket just bound, or not of mode \(String(mode, radix: 8))")
        }
        guard listen(fd, DaemonLimits.backlog) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw .socket(path: path, message: "listen: " + Self.error(code))
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
