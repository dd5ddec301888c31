import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel says about this process's login session and about a
/// process: read from /proc, each file checked and read whole.
public enum KernelSession {
    /// This process's login session: this boot and its audit session id.
    /// nil outside every login session (no `pam_loginuid` above it:
    /// 4294967295) or when /proc cannot tell.
    public static func current() -> LoginSessionID? {
        guard let boot = bootID(), let id = auditSessionID() else { return nil }
        return LoginSessionID(boot: boot, id: id)
    }

    /// This process's audit session id (`/proc/self/sessionid`); nil when
    /// unset (4294967295) or unreadable.
    public static func auditSessionID() -> UInt32? {
        guard let text = read("/proc/self/sessionid"), let id = UInt32(text), id != LoginSessionID.unset else { return nil }
        return id
    }

    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    public static func bootID() -> String? {
        read("/proc/sys/kernel/random/boot_id")
    }

    /// `pid` and its start time (clock ticks after boot); nil when there
    /// is no such process.
    public static func stamp(of pid: Int32) -> ProcessStamp? {
        process(pid)?.stamp
    }

    /// `pid`'s parent, and `pid` with its start time; nil when there is
    /// no such process.
    public static func process(_ pid: Int32) -> (parent: Int32, stamp: ProcessStamp)? {
        // "pid (comm) state ppid …": the command may hold spaces and
        // parentheses, so the fields are counted after the last ')';
        // starttime is the 22nd field of the line, the 20th after it.
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let parent = Int32(fields[1]), let start = UInt64(fields[19]) else { return nil }
        return (parent, ProcessStamp(pid: pid, start: start))
    }

    /// The text of a small /proc file, its trailing newline removed.
    private static func read(_ path: String) -> String? {
        guard let bytes = try? SafeFile.read(path, rules: FileRules(maxSize: 4096)) else { return nil }
        var text = bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
