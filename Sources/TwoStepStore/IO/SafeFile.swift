import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// The whole file, from offset 0 (`pread`, so an earlier read on the
    /// same descriptor does not matter; with `fromStart: false`, from the
    /// descriptor's offset by `read`, for a descriptor just opened), into one buffer sized from
    /// `expectedSize` (what the caller's `fstat` said) plus room to notice
    /// growth. Once `expectedSize` bytes are in and the buffer is not full,
    /// no read for the end of the file is made: callers read under a lock or
    /// accept a snapshot of a file being changed. A read interrupted by a
    /// signal is retried.
    ///
    /// Security: the bytes are returned in a `SecretBytes` (zeroed when
    /// released). Every intermediate buffer — the one outgrown when the file
    /// grew, the one read into — is zeroed before it is freed, on every path
    /// including errors.
    /// - Throws: `StoreError.unsafe(path:, reason: "it is larger than N bytes")`
    ///   when more than `maxSize` bytes are there; `.io` when a read fails.
    public borrowing func readAll(expectedSize: Int, maxSize: Int, path: String, fromStart: Bool = true) throws(StoreError) -> SecretBytes {
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(max(expectedSize, 0), maxSize) + 256, alignment: 16)
        defer {
            cleanse(buffer)
            buffer.deallocate()
        }
        var count = 0
        while true {
            if count == buffer.count {
                // The file grew since fstat: a larger buffer, the old one wiped.
                guard count <= maxSize else { throw .unsafe(path: path, reason: "it is larger than \(maxSize) bytes") }
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * count, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                cleanse(buffer)
                buffer.deallocate()
                buffer = larger
            }
            let at = buffer.baseAddress.map { $0 + count }
            let n = fromStart ? pread(raw, at, buffer.count - count, off_t(count)) : read(raw, at, buffer.count - count)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            count += n
            if count == expectedSize && count < buffer.count { break }
        }
        guard count <= maxSize else { throw .unsafe(path: path, reason: "it is larger than \(maxSize) bytes") }
        return SecretBytes(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }
}

/// Reading a small file that decides something, safely: not through a
/// symbolic link (`O_NOFOLLOW`), without blocking on a FIFO (`O_NONBLOCK`),
/// checked on the open descriptor (`FileRules`), read whole into a
/// `SecretBytes`.
public enum SafeFile {
    /// Opens `name` (relative to `directory`), checks it against `rules`
    /// and reads it. `path` names the file in errors.
    /// - Throws: `StoreError.io(…, "open", ENOENT)` when there is no file;
    ///   `.unsafe(path:, reason: "it is a symbolic link")`; `.unsafe` with
    ///   the `FileRules.Violation`'s reason (or "it is larger than N bytes");
    ///   `.io` for a failed system call.
    public static func read(_ name: String, relativeTo directory: Int32 = AT_FDCWD, rules: FileRules,
                            path: String? = nil) throws(StoreError) -> SecretBytes {
        let path = path ?? name
        let fd = try open(name, relativeTo: directory, path: path)
        let st = try fd.status(path: path)
        if let violation = rules.violation(st) { throw .unsafe(path: path, reason: describe(violation, rules)) }
        return try fd.readAll(expectedSize: Int(st.st_size), maxSize: rules.maxSize, path: path)
    }

    /// Opens `name` read-only for `read`: `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`.
    /// - Throws: `.unsafe(path:, reason: "it is a symbolic link")` for a
    ///   link, `.io(path:, operation: "open", errno:)` otherwise.
    public static func open(_ name: String, relativeTo directory: Int32 = AT_FDCWD, path: String) throws(StoreError) -> FileDescriptor {
        do {
            return try FileDescriptor(opening: name, relativeTo: directory, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, path: path)
        } catch .io(_, _, ELOOP) {
            throw .unsafe(path: path, reason: "it is a symbolic link")
        }
    }

    /// The reason `read` gives for `violation`.
    public static func describe(_ violation: FileRules.Violation, _ rules: FileRules) -> String {
        switch violation {
        case .tooLarge: "it is larger than \(rules.maxSize) bytes"
        case .tooSmall: rules.minSize == 1 ? "it is empty" : "it is smaller than \(rules.minSize) bytes"
        default: violation.reason
        }
    }
}
