import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// How setup makes a running sshd read its configuration again.
enum SSHDReload: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// systemd when it is PID 1, else signal.
    case auto
    /// `systemctl try-reload-or-restart ssh.service`.
    case systemd
    /// SIGHUP to the pid in sshd's PidFile (as `sshd -T` gives it).
    case signal

    /// `auto` made definite for this machine.
    var resolved: SSHDReload {
        guard self == .auto else { return self }
        return SSHDServer.systemdRuns ? .systemd : .signal
    }
}

/// The OpenSSH server setup configures: its files, `sshd -t` and `sshd -T`,
/// and reloading it.
struct SSHDServer {
    static let binary = "/usr/sbin/sshd"
    static let config = "/etc/ssh/sshd_config"
    static let dropIn = "/etc/ssh/sshd_config.d/twostep.conf"
    static let pamFile = "/etc/pam.d/sshd"
    static let commonAuth = "/etc/pam.d/common-auth"
    /// Debian's unit (sshd.service is its alias).
    static let unit = "ssh.service"

    /// True when systemd is the init system (sd_booted(3)'s test).
    static var systemdRuns: Bool {
        var st = stat()
        return lstat("/run/systemd/system", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `sshd -t`: the configuration is valid (sshd's message when not).
    static func test() throws(CLIError) -> SetupProgram.Result {
        try sshd(["-t", "-f", config])
    }

    /// `sshd -T`: the options in force, keyword (lower case) → value as
    /// printed (the first line of each keyword).
    static func effective() throws(CLIError) -> [String: String] {
        let result = try sshd(["-T", "-f", config])
        guard result.succeeded else { throw .failure("sshd -T -f \(config) failed: \(result.message)") }
        var values = [String: String]()
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let key = parts.first else { continue }
            if values[String(key)] == nil { values[String(key)] = parts.count > 1 ? String(parts[1]) : "" }
        }
        return values
    }

    private static func sshd(_ arguments: [String]) throws(CLIError) -> SetupProgram.Result {
        guard access(binary, X_OK) == 0 else { throw .failure("\(binary) is not there: install openssh-server first") }
        return try SetupProgram.run(binary, arguments)
    }

    /// Makes the running sshd read its configuration again; returns what
    /// was done, for the messages. A server that is not running is not an
    /// error (the configuration is read when it starts).
    ///
    /// It returns once the listener runs the new configuration, not when the
    /// reload command does: sshd re-executes itself on SIGHUP a moment after
    /// the signal (systemd's ExecReload is a `kill -HUP` that returns at
    /// once), and a connection the old listener accepts in between must not
    /// count as a login through the new configuration. The sign is the pid
    /// file: sshd writes it again once the new process listens.
    static func reload(_ mode: SSHDReload) throws(CLIError) -> String {
        let pidFile = try effective()["pidfile"] ?? "/run/sshd.pid"
        let running = pidFile == "none" ? nil : readPid(pidFile).flatMap { isSSHD($0) ? $0 : nil }
        let before = modification(pidFile)
        switch mode.resolved {
        case .systemd:
            guard let systemctl = SetupProgram.find("systemctl") else { throw .failure("systemctl not found (use --reload signal)") }
            let result = try SetupProgram.run(systemctl, ["try-reload-or-restart", unit])
            guard result.succeeded else { throw .failure("systemctl try-reload-or-restart \(unit) failed: \(result.message)") }
            let done = "reloaded \(unit) (systemctl try-reload-or-restart: nothing to do when it is not running)"
            guard running != nil else { return done }
            return waitForListener(pidFile, before: before) ? done
                : done + "; sshd has not written \(pidFile) again within 10 s: check that it runs"
        default:
            guard pidFile != "none", let pid = readPid(pidFile) else {
                return "sshd is not running (no pid in \(pidFile)): it reads the new configuration when it starts"
            }
            guard isSSHD(pid) else {
                return "process \(pid) of \(pidFile) is not sshd (a stale pid file?): sshd reads the new configuration when it starts"
            }
            guard kill(pid, SIGHUP) == 0 else { throw .failure("cannot send SIGHUP to sshd (pid \(pid)): \(SetupProgram.errorText())") }
            return waitForListener(pidFile, before: before) ? "reloaded sshd (SIGHUP to pid \(pid))"
                : "sent SIGHUP to sshd (pid \(pid)); it has not written \(pidFile) again within 10 s: check that it runs"
        }
    }

    /// Waits (up to 10 s) until sshd has written its pid file again (the
    /// re-executed or restarted listener, once it listens), so that a login
    /// right after setup is not refused and the window for a new login
    /// starts after the old listener is gone.
    private static func waitForListener(_ pidFile: String, before: Int?) -> Bool {
        for _ in 0..<200 {
            var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            nanosleep(&pause, nil)
            if modification(pidFile) != before, readPid(pidFile) != nil { return true }
        }
        return false
    }

    private static func readPid(_ path: String) -> pid_t? {
        guard let file = try? SetupFile.read(path), file.exists,
              let pid = Int32(SetupProgram.trim(file.text)), pid > 1, kill(pid, 0) == 0 else { return nil }
        return pid
    }

    private static func modification(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec
    }

    /// True when process `pid` runs sshd (or OpenSSH 9.8+'s sshd-session).
    static func isSSHD(_ pid: pid_t) -> Bool {
        let name = SetupLogin.program(pid)
        return name == "sshd" || name == "sshd-session"
    }
}
