#if canImport(Glibc)
import Glibc
#endif

/// Running the programs `twostep setup` needs (sshd -t/-T, systemctl,
/// systemd-run) directly, without a shell, and starting the detached undo
/// timer. posix_spawn only: no Foundation in the CLI.
struct SetupProgram {
    /// What a program printed and how it ended.
    struct Result {
        var status: Int32
        var output: String
        var errors: String
        var succeeded: Bool { status == 0 }
        /// Standard error, else standard output, trimmed: the reason to show.
        var message: String {
            SetupProgram.trim(errors.isEmpty ? output : errors)
        }
    }

    /// Where programs are looked for (root's usual PATH, whatever the caller's is).
    static let searchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The full path of `name` in `searchPath`, nil when it is nowhere.
    static func find(_ name: String) -> String? {
        if name.hasPrefix("/") { return access(name, X_OK) == 0 ? name : nil }
        return searchPath.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    /// Runs `path` with `arguments`, standard input /dev/null, and returns
    /// its output; killed after `timeout` seconds.
    static func run(_ path: String, _ arguments: [String], timeout: Int32 = 60) throws(CLIError) -> Result {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { throw .failure("cannot run \(path): pipe: \(Self.errorText())") }
        guard pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw .failure("cannot run \(path): pipe: \(Self.errorText())")
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let pid: pid_t
        do {
            pid = try spawn(path, arguments, actions: &actions, flags: Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        } catch {
            for fd in out + err { close(fd) }
            throw error
        }
        close(out[1]); close(err[1])
        var collected: [[UInt8]] = [[], []]
        var open = [out[0], err[0]]
        let deadline = Self.monotonic() + Double(timeout)
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) {
            let left = deadline - Self.monotonic()
            if left <= 0 {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { continue }
            for i in 0..<2 where open[i] >= 0 && fds[i].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(open[i], $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[i] += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    close(open[i])
                    open[i] = -1
                }
            }
        }
        for fd in open where fd >= 0 { close(fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = timedOut ? 124 : ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        var result = Result(
            status: code,
            output: String(decoding: collected[0], as: UTF8.self),
            errors: String(decoding: collected[1], as: UTF8.self))
        if timedOut { result.errors += "\n(killed after \(timeout) s)" }
        return result
    }

    /// Starts `path` with `arguments` detached from this process: in a
    /// session of its own (setsid: no controlling terminal, so closing
    /// the terminal sends it no SIGHUP), standard input /dev/null, standard
    /// output and error appended to `log`. It is not waited for: when
    /// this process exits it is re-parented to init (or the nearest
    /// subreaper). Returns its pid.
    static func spawnDetached(_ path: String, _ arguments: [String], log: String) throws(CLIError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // POSIX_SPAWN_SETSID (glibc 2.26+; under _GNU_SOURCE, which Swift's Glibc module does not define).
        let setsid: Int16 = 0x80
        return try spawn(path, arguments, actions: &actions,
                         flags: Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | setsid)
    }

    /// posix_spawn with an empty signal mask and every signal at its default.
    private static func spawn(_ path: String, _ arguments: [String], actions: inout posix_spawn_file_actions_t,
                              flags: Int16) throws(CLIError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, flags)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw .failure("cannot run \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    private static func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// `text` without leading and trailing white space.
    static func trim(_ text: String) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
