import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Which login a process belongs to, to tell whether `twostep setup
/// --confirm` comes from a new one.
///
/// The rule: the confirming process must run below an ssh connection
/// that sshd accepted after setup had reloaded it — the connection's sshd
/// process (the child of the listening sshd, "sshd: USER [priv]") started
/// after the change was in force — and, when the kernel keeps audit
/// sessions (pam_loginuid sets /proc/self/sessionid at every login), in
/// another audit session than the one that ran setup. Such a login went
/// through the new configuration, so whoever confirms has just shown
/// that logging in works. A terminal that was already open, `su`, or a
/// new tmux window of an old login do not count: they show nothing.
struct SetupLogin: Equatable {
    /// The audit session id; nil when unset (4294967295).
    var auditSession: UInt32?
    /// The sshd process of the ssh connection above this process.
    var connection: (pid: Int32, start: UInt64)?

    static func == (a: SetupLogin, b: SetupLogin) -> Bool {
        a.auditSession == b.auditSession && a.connection?.pid == b.connection?.pid && a.connection?.start == b.connection?.start
    }

    /// This process's login.
    static func current() -> SetupLogin {
        SetupLogin(auditSession: auditSession(), connection: connection())
    }

    /// A few words for --status: "ssh connection (sshd pid 1234), audit session 7".
    var description: String {
        var parts = [String]()
        if let connection { parts.append("ssh connection (sshd pid \(connection.pid))") } else { parts.append("no ssh connection") }
        if let auditSession { parts.append("audit session \(auditSession)") }
        if let user = try? Account.current() { parts.insert(user.name, at: 0) }
        return parts.joined(separator: ", ")
    }

    /// nil when this is a new login with respect to `state`, else why not.
    func refusal(for state: SetupState) -> String? {
        guard let connection else {
            return "this command does not run in an ssh login (no sshd above it). Log in anew with ssh (as yourself and then sudo; as root only where PermitRootLogin is yes) and run 'twostep setup --confirm' there"
        }
        if let auditSession, auditSession == state.auditSession {
            return "this is the login that ran setup (audit session \(auditSession)). Log in anew with ssh from another terminal and run 'twostep setup --confirm' there"
        }
        // Ticks of another boot are not comparable; after a reboot every connection is new.
        if Self.bootID() == state.bootID && connection.start <= state.appliedTicks {
            return "this ssh connection was opened before setup changed sshd's configuration, so it shows nothing about logging in now. Log in anew with ssh and run 'twostep setup --confirm' there"
        }
        return nil
    }

    /// nil when this process runs below a `sudo` process that started
    /// after `state` (setup sudo's) was in force, else why not: such a
    /// sudo read the new /etc/pam.d/sudo, so whoever confirms has just
    /// shown that sudo works with it.
    static func sudoRefusal(for state: SetupState) -> String? {
        let how = "run it as: sudo twostep setup --confirm sudo, from a login (after 'sudo -k', so that sudo asks and its new auth stack runs)"
        let sudos = sudoAncestors()
        guard let nearest = sudos.first else {
            return "this command does not run below sudo, so it shows nothing about sudo with the new configuration; \(how)"
        }
        // Ticks of another boot are not comparable; after a reboot every sudo is new.
        if Self.bootID() != state.bootID || sudos.contains(where: { $0.start > state.appliedTicks }) { return nil }
        return "the sudo above this command (pid \(nearest.pid)) was started before setup changed sudo's configuration; \(how)"
    }

    /// The `sudo` processes above this one, nearest first.
    static func sudoAncestors() -> [(pid: Int32, start: UInt64)] {
        var found = [(pid: Int32, start: UInt64)]()
        var pid = getppid()
        while pid > 1, let (parent, start) = stat(pid) {
            if program(pid) == "sudo" { found.append((pid, start)) }
            pid = parent
        }
        return found
    }

    /// The file name of the program process `pid` runs (/proc/PID/exe), nil when it cannot be read.
    static func program(_ pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        var path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    /// /proc/self/sessionid; nil when unset.
    static func auditSession() -> UInt32? {
        KernelSession.auditSessionID()
    }

    /// The sshd process of the connection above this process: of the
    /// contiguous run of sshd ancestors nearest to it, the one just below
    /// the topmost (the listener); the topmost itself when it is alone
    /// (sshd -i, one process per connection).
    static func connection() -> (pid: Int32, start: UInt64)? {
        var pid = getppid()
        var run = [(pid: Int32, start: UInt64)]()
        while pid > 1, let (parent, start) = stat(pid) {
            if SSHDServer.isSSHD(pid) {
                run.append((pid, start))
            } else if !run.isEmpty {
                break
            }
            pid = parent
        }
        guard !run.isEmpty else { return nil }
        return run.count >= 2 ? run[run.count - 2] : run[0]
    }

    /// The parent and the start time (clock ticks after boot) of `pid`, from /proc/PID/stat.
    static func stat(_ pid: Int32) -> (parent: Int32, start: UInt64)? {
        KernelSession.process(pid).map { ($0.parent, $0.stamp.start) }
    }

    /// Now, in the clock ticks of /proc/PID/stat's start time (CLOCK_BOOTTIME).
    static func nowTicks() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return UInt64(now.tv_sec) * hz + UInt64(now.tv_nsec) * hz / 1_000_000_000
    }

    static func bootID() -> String {
        KernelSession.bootID() ?? ""
    }
}
