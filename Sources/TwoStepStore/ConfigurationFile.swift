import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// The system configuration file on disk (SPEC §7): the only code that
/// opens it. Read by the module on every login, so one `open` (two for a
/// symbolic link), one `fstat`, one `read` (more only when the file grew
/// meanwhile) and a `close`; a missing file is one failed `open`.
///
/// Rules, checked on the open descriptor (so on the file that is read):
/// - missing (ENOENT, also for a missing /etc/twostep): the built-in
///   defaults, `SystemConfiguration()` — unless the packaged store
///   directory `/var/lib/twostep` holds at least one record: then the
///   file was lost, not never installed, and its defaults would silently
///   move every user to `%h/.twostep` (with nullok: in on the password
///   alone), so that is an error (`packagedStoreHoldsRecords`);
/// - symbolic links are followed, because configuration tools manage /etc
///   files that way; the file they end at is the one checked. A link that
///   leads nowhere is an error, not a missing file (a dangling link is
///   somebody's mistake, and the defaults could be weaker than the file
///   meant to be);
/// - it must be a regular file (opened with `O_NONBLOCK`: a FIFO cannot
///   hang a login), owned by root, not writable by group or others, and
///   at most `maxSize` bytes. It needs no other permission: mode 0644 lets
///   the users who run `twostep` read it (it holds no secret: a database
///   password is in the root-only file `database_password_file=` names);
/// - anything else, and every parse error, is a `ConfigurationError`
///   naming the file (and the line).
///
/// The directories on the way are the administrator's, as for any file in
/// /etc: they are not checked.
public enum ConfigurationFile {
    /// /etc/twostep/twostep.conf.
    public static let defaultPath = SystemConfiguration.defaultPath
    /// Larger files are refused unread.
    public static let maxSize = 64 << 10

    /// Reads and parses the file at `path`; the built-in defaults when it
    /// does not exist.
    public static func load(path: String = defaultPath) throws(ConfigurationError) -> SystemConfiguration {
        // Without following a link first: a missing file (the common case
        // without the package) is then one failed open, and only a link
        // costs a second one, which tells a dangling link from no file.
        let fd: FileDescriptor
        do {
            fd = try open(path)
        } catch .io(_, _, ENOENT) {
            if packagedStoreHoldsRecords() {
                throw .unsafe(path: path, reason: "it does not exist, but \(packagedStore) holds users' records: without the file twostep would look for them in home directories (store=%h/.twostep) instead. Restore it (the package's has store=\(packagedStore)/%u); until then every login is denied")
            }
            return SystemConfiguration()
        } catch {
            throw ConfigurationError(error, path: path)
        }
        let st: stat
        do { st = try fd.status(path: path) } catch { throw ConfigurationError(error, path: path) }
        try check(st, path: path)
        let bytes = try read(fd, size: Int(st.st_size), maxSize: maxSize, path: path)
        // No Result (see `SystemConfiguration.init(parsing:path:)`).
        var failure: ConfigurationError?
        var parsed = SystemConfiguration()
        bytes.withUnsafeBytes { raw in
            do throws(ConfigurationError) {
                parsed = try SystemConfiguration(parsing: raw.assumingMemoryBound(to: UInt8.self), path: path)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return parsed
    }

    /// Opens the file, following a symbolic link only when it is one.
    private static func open(_ path: String) throws(StoreError) -> FileDescriptor {
        let flags = O_RDONLY | O_NOCTTY | O_NONBLOCK
        do { return try FileDescriptor(opening: path, flags: flags | O_NOFOLLOW) } catch .io(_, _, ELOOP) {}
        do { return try FileDescriptor(opening: path, flags: flags) } catch .io(_, _, ENOENT) {
            throw .unsafe(path: path, reason: "it is a symbolic link to a file that does not exist")
        }
    }

    /// The store directory the package and `make install` set up
    /// (`store=/var/lib/twostep/%u` in the shipped file).
    public static let packagedStore = "/var/lib/twostep"

    /// Whether `directory` (default: the packaged store) holds a record: an
    /// entry that is not hidden and not a directory. A directory that does
    /// not exist, is empty (systemd's `StateDirectory=` makes it empty on
    /// every start) or cannot be read (an ordinary user running `twostep`:
    /// it is root's, mode 0700; the module and twostepd run as root) holds
    /// none. Costs one failed `open` where there is no such directory.
    public static func packagedStoreHoldsRecords(_ directory: String = packagedStore) -> Bool {
        guard let dir = opendir(directory) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            // Only d_name's first byte: the bytes after its NUL may not be there.
            let first = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 1) { $0.pointee }
            }
            if first == 0 || first == UInt8(ascii: ".") || entry.pointee.d_type == UInt8(DT_DIR) { continue }
            return true
        }
        return false
    }

    /// The password in `database_password_file=` (SPEC §9): the first
    /// line, without its line end. Stricter than the configuration file: no
    /// symbolic link, a regular file owned by root with no permission at
    /// all for group or others (0600 or 0400), at most 4 KiB. The caller
    /// zeroes the result when done.
    public static func secret(path: String) throws(ConfigurationError) -> SecretBytes {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor(opening: path, flags: O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)
        } catch .io(_, _, ELOOP) {
            throw .unsafe(path: path, reason: "it is a symbolic link; name the file itself")
        } catch {
            throw ConfigurationError(error, path: path)
        }
        let st: stat
        do { st = try fd.status(path: path) } catch { throw ConfigurationError(error, path: path) }
        let rules = FileRules(owner: 0, forbiddenMode: 0o077, maxSize: 4096)
        if let violation = rules.violation(st) {
            let rule = "it must be owned by root with mode 0600 or 0400"
            let reason = switch violation {
            case .owner(let uid): "it is owned by uid \(uid); \(rule)"
            case .mode(let mode): "group or others may use it (mode \(String(mode, radix: 8))); \(rule)"
            case .tooLarge: "it is larger than 4096 bytes"
            default: violation.reason
            }
            throw .unsafe(path: path, reason: reason)
        }
        let bytes = try read(fd, size: Int(st.st_size), maxSize: 4096, path: path)
        let end = bytes.withUnsafeBytes { $0.firstIndex(where: { $0 == 10 || $0 == 13 }) ?? $0.count }
        guard end > 0 else { throw .unsafe(path: path, reason: "its first line is empty") }
        return end == bytes.count ? bytes : bytes.withUnsafeBytes { SecretBytes(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
    }

    /// The checks on the file read (after following links).
    static func check(_ st: stat, path: String) throws(ConfigurationError) {
        guard let violation = FileRules(owner: 0, forbiddenMode: mode_t(S_IWGRP | S_IWOTH), maxSize: maxSize).violation(st) else { return }
        let rule = "it must be owned by root and not writable by group or others"
        let reason = switch violation {
        case .owner(let uid): "it is owned by uid \(uid), not by root; \(rule)"
        case .mode(let mode): "it is writable by group or others (mode \(String(mode, radix: 8))); \(rule)"
        case .tooLarge: "it is larger than \(maxSize) bytes"
        default: violation.reason
        }
        throw .unsafe(path: path, reason: reason)
    }

    /// The whole file (`FileDescriptor.readAll`), its size limit's error
    /// as a `ConfigurationError`.
    private static func read(_ fd: borrowing FileDescriptor, size: Int, maxSize: Int, path: String) throws(ConfigurationError) -> SecretBytes {
        do { return try fd.readAll(expectedSize: size, maxSize: maxSize, path: path, fromStart: false) } catch { throw ConfigurationError(error, path: path) }
    }
}

extension ConfigurationError {
    /// The file layer's error about `path`, as a configuration error.
    init(_ error: StoreError, path: String) {
        switch error {
        case .io(_, let operation, let e): self = .io(path: path, operation: operation, errno: e)
        case .unsafe(_, let reason): self = .unsafe(path: path, reason: reason)
        default: self = .unsafe(path: path, reason: error.description)
        }
    }
}
