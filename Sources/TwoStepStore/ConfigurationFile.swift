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
        let flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK
        var fd = open(path, flags | O_NOFOLLOW)
        if fd < 0 && errno == ELOOP {
            fd = open(path, flags)
            if fd < 0 && errno == ENOENT {
                throw .unsafe(path: path, reason: "it is a symbolic link to a file that does not exist")
            }
        }
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT {
                if packagedStoreHoldsRecords() {
                    throw .unsafe(path: path, reason: "it does not exist, but \(packagedStore) holds users' records: without the file twostep would look for them in home directories (store=%h/.twostep) instead. Restore it (the package's has store=\(packagedStore)/%u); until then every login is denied")
                }
                return SystemConfiguration()
            }
            throw .io(path: path, operation: "open", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        try check(st, path: path)
        let bytes = try read(fd, size: Int(st.st_size), path: path)
        return try SystemConfiguration(parsing: bytes, path: path)
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
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP { throw .unsafe(path: path, reason: "it is a symbolic link; name the file itself") }
            throw .io(path: path, operation: "open", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .unsafe(path: path, reason: "it is not a regular file") }
        let rule = "it must be owned by root with mode 0600 or 0400"
        guard st.st_uid == 0 else { throw .unsafe(path: path, reason: "it is owned by uid \(st.st_uid); \(rule)") }
        guard st.st_mode & 0o077 == 0 else {
            throw .unsafe(path: path, reason: "group or others may use it (mode \(String(st.st_mode & 0o7777, radix: 8))); \(rule)")
        }
        guard st.st_size <= 4096 else { throw .unsafe(path: path, reason: "it is larger than 4096 bytes") }
        var bytes = try read(fd, size: Int(st.st_size), path: path)
        defer { cleanse(&bytes) }
        let end = bytes.firstIndex(where: { $0 == 10 || $0 == 13 }) ?? bytes.count
        guard end > 0 else { throw .unsafe(path: path, reason: "its first line is empty") }
        return SecretBytes(bytes[..<end])
    }

    /// The checks on the file read (after following links).
    static func check(_ st: stat, path: String) throws(ConfigurationError) {
        guard st.st_mode & S_IFMT == S_IFREG else { throw .unsafe(path: path, reason: "it is not a regular file") }
        let rule = "it must be owned by root and not writable by group or others"
        guard st.st_uid == 0 else { throw .unsafe(path: path, reason: "it is owned by uid \(st.st_uid), not by root; \(rule)") }
        guard st.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw .unsafe(path: path, reason: "it is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))); \(rule)")
        }
        guard st.st_size <= maxSize else { throw .unsafe(path: path, reason: "it is larger than \(maxSize) bytes") }
    }

    /// The whole file: one read into a buffer one byte larger than `fstat`
    /// said; a read that fills it means the file grew meanwhile, and it is
    /// read on, up to the size limit.
    private static func read(_ fd: Int32, size: Int, path: String) throws(ConfigurationError) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: min(size, maxSize) + 1)
        var count = 0
        while true {
            if count == data.count {
                guard count <= maxSize else { throw .unsafe(path: path, reason: "it is larger than \(maxSize) bytes") }
                data.append(contentsOf: [UInt8](repeating: 0, count: min(data.count, maxSize + 1 - count)))
            }
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            count += n
            // What fstat said, read with room to spare: no read for the end.
            if count == size && count < data.count { break }
        }
        data.removeSubrange(count...)
        return data
    }
}
