import TwoStepCore
import TwoStepStore
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
        let bytes: SecretBytes
        do throws(StoreError) {
            let fd = try FileDescriptor(opening: path, flags: O_RDONLY | O_NOFOLLOW)
            st = try fd.status(path: path)
            guard st.st_size <= limit else { throw StoreError.unsafe(path: path, reason: "it is larger than \(limit) bytes") }
            bytes = try fd.readAll(expectedSize: Int(st.st_size), maxSize: limit, path: path)
        } catch .unsafe {
            throw .failure("\(path) is larger than \(limit) bytes; refusing to change it")
        } catch .io(_, _, let e) {
            throw .failure("cannot read \(path): \(SetupProgram.errorText(e))")
        } catch {
            throw .failure("cannot read \(path): \(error)")
        }
        let contents = bytes.withUnsafeBytes { [UInt8]($0) }
        return SetupFile(path: path, exists: true, bytes: contents, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid)
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

    /// Writes `bytes` to `path` atomically with `mode` and owner `uid`:`gid`
    /// (`AtomicReplace`, durable).
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, uid: uid_t, gid: gid_t) throws(CLIError) {
        do {
            try AtomicReplace(owner: (uid, gid), mode: mode).replace(path: path, with: bytes)
        } catch .io(_, let operation, let e) {
            let what = switch operation {
            case "rename": "replace"
            case "set the owner of", "set the mode of": "set the owner and mode of"
            default: "write"
            }
            throw .failure("cannot \(what) \(path): \(SetupProgram.errorText(e))")
        } catch {
            throw .failure("cannot write \(path): \(error)")
        }
    }

    static func directory(of path: String) -> String {
        AtomicReplace.split(path).directory
    }

    /// fsyncs the directory of `path` (best effort: after a removal).
    static func syncDirectory(of path: String) {
        guard let fd = try? FileDescriptor(opening: directory(of: path), flags: O_RDONLY | O_DIRECTORY) else { return }
        try? fd.sync(path: path)
    }

    /// The bytes as text (invalid UTF-8 replaced: for looking, never for writing back).
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
