#if canImport(Glibc)
import Glibc
#endif

/// A configuration file as `twostep setup` found it — its exact bytes,
/// mode and owner, or that it was not there — and the one way setup
/// writes files: a temporary file in the same directory, given the mode
/// and owner, fsynced, renamed over the old one, the directory fsynced.
/// A failure at any point leaves the old file as it was.
struct SetupFile: Equatable {
    let path: String
    /// False when there was no file (setup creates it; undo removes it).
    let exists: Bool
    let bytes: [UInt8]
    let mode: mode_t
    let uid: uid_t
    let gid: gid_t

    /// At most this much is read: configuration files are small.
    static let limit = 1 << 20

    init(path: String, exists: Bool, bytes: [UInt8], mode: mode_t, uid: uid_t, gid: gid_t) {
        self.path = path
        self.exists = exists
        self.bytes = bytes
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    /// Reads `path` without following a symbolic link. A link, a
    /// directory or anything but a regular file is refused: setup changes
    /// regular files only, and undo must be able to put back exactly
    /// what was there.
    static func read(_ path: String) throws(CLIError) -> SetupFile {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else { throw .failure("cannot read \(path): \(SetupProgram.errorText())") }
            return SetupFile(path: path, exists: false, bytes: [], mode: 0o644, uid: 0, gid: 0)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            let what = (st.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a regular file"
            throw .failure("\(path) is \(what); twostep setup changes regular files only (change it by hand, or make it a plain file)")
        }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .failure("cannot read \(path): \(SetupProgram.errorText())") }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { throw .failure("cannot read \(path): \(SetupProgram.errorText())") }
        guard st.st_size <= limit else { throw .failure("\(path) is larger than \(limit) bytes; refusing to change it") }
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .failure("cannot read \(path): \(SetupProgram.errorText())") }
            if n == 0 { break }
            bytes += buffer[0..<n]
            guard bytes.count <= limit else { throw .failure("\(path) is larger than \(limit) bytes; refusing to change it") }
        }
        return SetupFile(path: path, exists: true, bytes: bytes, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid)
    }

    /// The same file with other content (same mode and owner; a new file is root's, 0644).
    func with(_ bytes: [UInt8]) -> SetupFile {
        SetupFile(path: path, exists: true, bytes: bytes, mode: mode, uid: uid, gid: gid)
    }

    /// Makes the disk hold this: the bytes with this mode and owner, or no
    /// file at all when `exists` is false.
    func put() throws(CLIError) {
        guard exists else {
            if unlink(path) != 0 && errno != ENOENT { throw .failure("cannot remove \(path): \(SetupProgram.errorText())") }
            Self.syncDirectory(of: path)
            return
        }
        try Self.write(bytes, to: path, mode: mode, uid: uid, gid: gid)
    }

    /// Writes `bytes` to `path` atomically with `mode` and owner `uid`:`gid`.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, uid: uid_t, gid: gid_t) throws(CLIError) {
        let directory = directory(of: path)
        var template = Array((directory + "/.twostep-setup.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .failure("cannot write in \(directory): \(SetupProgram.errorText())") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var done = false
        defer {
            close(fd)
            if !done { unlink(temporary) }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .failure("cannot write \(path): \(SetupProgram.errorText())") }
            offset += n
        }
        guard fchown(fd, uid, gid) == 0, fchmod(fd, mode) == 0 else {
            throw .failure("cannot set the owner and mode of \(path): \(SetupProgram.errorText())")
        }
        guard fsync(fd) == 0 else { throw .failure("cannot write \(path): \(SetupProgram.errorText())") }
        guard rename(temporary, path) == 0 else { throw .failure("cannot replace \(path): \(SetupProgram.errorText())") }
        done = true
        syncDirectory(of: path)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func syncDirectory(of path: String) {
        let fd = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// The bytes as text (invalid UTF-8 replaced: for looking, never for writing back).
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
