import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Finds and checks the plugin for a kind of channel before anything runs:
/// `<channels dir>/<sms|voice>` must be a regular file (not a symlink),
/// owned by root, executable, not writable by group or others; the
/// directory and every directory above it must be owned by root and not
/// writable by group or others (a world-writable directory above is
/// allowed only with the sticky bit, like /tmp, which stops others from
/// renaming what root put there). Symbolic links in the directory path are
/// resolved first and the real path is checked.
public enum PluginPath {
    /// The checked path of the plugin for `kind`.
    public static func resolve(directory: String, kind: ChannelKind) throws(ChannelError) -> String {
        let shown = directory + "/" + kind.rawValue
        guard directory.hasPrefix("/") else { throw .unsafe(path: shown, reason: "the channels directory is not absolute") }
        guard let real = realpath(directory, nil) else {
            if errno == ENOENT { throw .notInstalled(path: shown) }
            throw .unsafe(path: shown, reason: "cannot resolve \(directory): \(String(cString: strerror(errno)))")
        }
        let resolved = String(cString: real)
        free(real)

        var directories = ["/"]
        var walked = ""
        for component in resolved.split(separator: "/") {
            walked += "/" + component
            directories.append(walked)
        }
        for (index, prefix) in directories.enumerated() {
            let isLast = index == directories.count - 1
            var st = stat()
            guard lstat(prefix, &st) == 0 else {
                throw .unsafe(path: shown, reason: "cannot stat \(prefix): \(String(cString: strerror(errno)))")
            }
            guard st.st_mode & S_IFMT == S_IFDIR else { throw .unsafe(path: shown, reason: "\(prefix) is not a directory") }
            guard st.st_uid == 0 else { throw .unsafe(path: shown, reason: "\(prefix) is owned by uid \(st.st_uid), not root") }
            let writable = st.st_mode & (S_IWGRP | S_IWOTH) != 0
            let sticky = st.st_mode & S_ISVTX != 0
            if writable && (isLast || !sticky) {
                throw .unsafe(path: shown, reason: "\(prefix) is writable by group or others")
            }
        }

        let path = (resolved == "/" ? "" : resolved) + "/" + kind.rawValue
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { throw .notInstalled(path: path) }
            throw .unsafe(path: path, reason: String(cString: strerror(errno)))
        }
        guard st.st_mode & S_IFMT != S_IFLNK else {
            throw .unsafe(path: path, reason: "it is a symbolic link (install the plugin itself, e.g. a copy of spool)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .unsafe(path: path, reason: "it is not a regular file") }
        guard st.st_uid == 0 else { throw .unsafe(path: path, reason: "it is owned by uid \(st.st_uid), not root") }
        guard st.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw .unsafe(path: path, reason: "it is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        guard st.st_mode & S_IXUSR != 0 else { throw .unsafe(path: path, reason: "it is not executable") }
        return path
    }
}
