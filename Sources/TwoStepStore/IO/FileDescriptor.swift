import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor with one owner: closed when the value goes (or
/// by `close()`), so that no other code calls `close(2)` and no path leaks
/// or closes a descriptor twice. Non-copyable: a descriptor cannot be
/// shared by accident, only borrowed.
public struct FileDescriptor: ~Copyable {
    /// The descriptor number, valid while this value lives. Never close it.
    public let raw: Int32

    /// Takes ownership of `raw`, an open descriptor.
    public init(adopting raw: Int32) {
        self.raw = raw
    }

    /// Opens `name` relative to the directory `directory` (`AT_FDCWD`: the
    /// working directory; an absolute `name` ignores it). `O_CLOEXEC` is
    /// always added; `mode` is used with `O_CREAT`.
    /// - Throws: `StoreError.io(path: path ?? name, operation: "open", errno:)`;
    ///   callers map the errno they care about (`ENOENT`, `ELOOP`).
    public init(opening name: String, relativeTo directory: Int32 = AT_FDCWD, flags: Int32, mode: mode_t = 0,
                path: String? = nil) throws(StoreError) {
        let fd = openat(directory, name, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io(path: path ?? name, operation: "open", errno: errno) }
        raw = fd
    }

    deinit {
        Glibc.close(raw)
    }

    /// Closes the descriptor now and says how that went: 0, or the errno
    /// (a write-back error surfaces here on some file systems).
    public consuming func close() -> Int32 {
        let fd = raw
        discard self
        return Glibc.close(fd) == 0 ? 0 : errno
    }

    /// Gives up ownership: the caller now owns (and must close) the
    /// descriptor. For code that keeps a raw descriptor (a held lock).
    public consuming func release() -> Int32 {
        let fd = raw
        discard self
        return fd
    }

    /// `fstat(2)` of the open file.
    /// - Throws: `StoreError.io(path:, operation: "stat", errno:)`.
    public borrowing func status(path: String) throws(StoreError) -> stat {
        var st = stat()
        guard fstat(raw, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        return st
    }

    /// `fsync(2)`.
    /// - Throws: `StoreError.io(path:, operation:, errno:)`.
    public borrowing func sync(path: String, operation: String = "fsync") throws(StoreError) {
        guard fsync(raw) == 0 else { throw .io(path: path, operation: operation, errno: errno) }
    }

    /// Calls `body` with the name of every entry of this directory (`.`
    /// and `..` included), read through a duplicate of the descriptor.
    /// Best effort: nothing when the directory cannot be read.
    public borrowing func forEachEntry(_ body: (String) -> Void) {
        let copy = dup(raw)
        guard copy >= 0 else { return }
        guard let stream = fdopendir(copy) else {
            _ = FileDescriptor(adopting: copy)  // closes it
            return
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            // strlen on d_name in place: the bytes after its NUL are not
            // initialised, so nothing may read (or copy) past it.
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            body(name)
        }
    }
}
