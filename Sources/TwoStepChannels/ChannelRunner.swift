import CChannelSpawn
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs a channel plugin to deliver one code (SPEC §5). One implementation
/// for the PAM module and the CLI; no Foundation (the module links it).
///
/// The plugin path is checked first (`PluginPath`). It is started directly
/// with posix_spawn — no shell, safe in a threaded process like sshd —
/// with argv `[path]`, a clean environment holding only `TWOSTEP_USER`,
/// `TWOSTEP_DESTINATION`, `TWOSTEP_CODE`, `TWOSTEP_KIND` and a fixed
/// `PATH`, stdin from /dev/null, stdout and stderr into a pipe (the start
/// of which is kept for the log, with the code removed), no other file
/// descriptor, working directory /, and its own process group. When it
/// has not exited after `timeLimit` seconds the whole group is killed
/// (SIGKILL); when it has, whatever it left running in its group is killed
/// too. The child is always reaped. Exit status 0 means sent.
///
/// The plugin runs with the caller's identity: root in the PAM module (it
/// may need root-only credentials), the user running `twostep` in the CLI.
public struct ChannelRunner: Sendable {
    /// Seconds a plugin may run (SPEC §5).
    public static let standardTimeLimit = 10
    /// The `PATH` the plugin gets.
    public static let path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    /// Bytes of output kept for the log.
    static let outputLimit = 2048

    public let directory: String
    public let timeLimit: Int

    public init(directory: String, timeLimit: Int = ChannelRunner.standardTimeLimit) {
        self.directory = directory
        self.timeLimit = timeLimit
    }

    /// Sends `code` to `destination` through the `kind` plugin. Returns
    /// normally only when the plugin exited with status 0.
    public func send(kind: ChannelKind, user: String, destination: PhoneNumber, code: String) throws(ChannelError) {
        let path = try PluginPath.resolve(directory: directory, kind: kind)
        let environment = [
            "TWOSTEP_USER=\(user)", "TWOSTEP_DESTINATION=\(destination.e164)",
            "TWOSTEP_CODE=\(code)", "TWOSTEP_KIND=\(kind.rawValue)", Self.path,
        ]
        try run(path: path, environment: environment, code: code)
    }

    /// Spawns, waits (at most `timeLimit`), kills the group, reaps.
    func run(path: String, environment: [String], code: String) throws(ChannelError) {
        var fds: [Int32] = [-1, -1]
        guard twostep_pipe_cloexec(&fds) == 0 else { throw .spawnFailed(path: path, errno: errno) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }

        // A process that ignores SIGCHLD has its children reaped by the
        // kernel, and their exit status is lost: restore the default for
        // the run, as pam_unix does around its helper.
        var previous = sigaction()
        let restoreSIGCHLD = twostep_sigchld_unignore(&previous) == 1
        defer { if restoreSIGCHLD { sigaction(SIGCHLD, &previous, nil) } }

        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cEnvironment {
                if let p {
                    explicit_bzero(p, strlen(p))
                    free(p)
                }
            }
        }
        var pid: pid_t = 0
        let rc = twostep_spawn_channel(path, &cEnvironment, writeEnd, &pid)
        close(writeEnd)
        guard rc == 0 else { throw .spawnFailed(path: path, errno: rc) }

        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        var output = [UInt8]()
        let deadline = Self.monotonicMilliseconds() + Int64(timeLimit) * 1000
        var timedOut = false
        var lostErrno: Int32?
        while true {
            let state = twostep_child_exited(pid)
            if state == 1 { break }
            if state < 0 {
                if errno == EINTR { continue }
                lostErrno = errno
                break
            }
            let remaining = deadline - Self.monotonicMilliseconds()
            if remaining <= 0 {
                timedOut = true
                break
            }
            var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(min(remaining, 50)))
            Self.drain(readEnd, into: &output)
        }
        if let lostErrno { throw .lost(path: path, errno: lostErrno) }
        // The child is running (time-out) or a zombie: either way its pid,
        // and so its process group id, cannot have been reused.
        kill(-pid, SIGKILL)
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            throw .lost(path: path, errno: errno)
        }
        Self.drain(readEnd, into: &output)
        if timedOut { throw .timedOut(path: path, seconds: timeLimit) }
        let signal = status & 0x7f
        if signal != 0 { throw .killed(path: path, signal: signal) }
        let exitStatus = (status >> 8) & 0xff
        guard exitStatus == 0 else {
            throw .failed(path: path, status: exitStatus, output: Self.loggable(output, hiding: code))
        }
    }

    private static func drain(_ fd: Int32, into output: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            if output.count < outputLimit { output += chunk[0..<min(n, outputLimit - output.count)] }
        }
    }

    /// The first line of the plugin's output for the log: printable ASCII,
    /// at most 200 characters, with the code (if echoed) blanked.
    static func loggable(_ output: [UInt8], hiding code: String) -> String {
        let firstLine = output.split(separator: UInt8(ascii: "\n")).first { !$0.allSatisfy { $0 == 32 || $0 == 13 } } ?? []
        var bytes = firstLine.prefix(200).map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: "?") }
        let secret = Array(code.utf8)
        if !secret.isEmpty && bytes.count >= secret.count {
            for start in 0...(bytes.count - secret.count) where bytes[start..<start + secret.count].elementsEqual(secret) {
                bytes.replaceSubrange(start..<start + secret.count, with: repeatElement(UInt8(ascii: "*"), count: secret.count))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
