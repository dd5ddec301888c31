import ArgumentParser
import TwoStepAccounts
#if canImport(Glibc)
import Glibc
#endif

/// The undo timer of a pending set-up: it must outlive the session that
/// ran setup (a dropped connection is the very case it is for).
///
/// - `systemd` (where systemd is PID 1): a transient timer,
///   `systemd-run --on-active=S --unit twostep-setup-undo-TARGET twostep
///   setup --undo --after-timeout TOKEN TARGET`, which runs outside any
///   login session.
/// - `process` (elsewhere: containers, CI): a detached twostep process in
///   a session of its own (no controlling terminal, SIGHUP ignored,
///   standard input /dev/null, output to the target's timer.log in
///   /var/lib/twostep-setup), which sleeps until the deadline.
///
/// Each target has its own (`SetupTarget.timerUnit`).
///
/// Either way the command it runs checks, under the state lock, that the
/// set-up with its token is still pending and its deadline has passed
/// before it undoes anything, so a timer that outlives its set-up does nothing.
enum SetupTimer: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, systemd, process

    var resolved: SetupTimer {
        guard self == .auto else { return self }
        return SSHDServer.systemdRuns && SetupProgram.find("systemd-run") != nil ? .systemd : .process
    }

    /// Starts the timer for `state` (its token and timeout).
    func start(for state: SetupState, log: String) throws(CLIError) -> SetupState.Timer {
        let program = Self.selfPath()
        let arguments = ["setup", "--undo", "--after-timeout", state.token, state.target.rawValue]
        let unit = state.target.timerUnit
        switch resolved {
        case .systemd:
            guard let run = SetupProgram.find("systemd-run") else { throw .failure("systemd-run not found (use --timer process)") }
            Self.stopUnit(unit)
            let result = try SetupProgram.run(run, [
                "--unit", unit, "--on-active=\(state.timeout)s", "--timer-property=AccuracySec=1s",
                "--description", "twostep: undo 'twostep setup \(state.target.rawValue)' unless confirmed", "--", program,
            ] + arguments)
            guard result.succeeded else { throw .failure("systemd-run failed: \(result.message)") }
            return .systemd(unit: unit)
        default:
            let pid = try SetupProgram.spawnDetached("/proc/self/exe", arguments, log: log)
            // Its start time, read while it certainly is ours (it cannot have been reaped yet).
            let start = SetupLogin.stat(pid)?.start ?? 0
            return .process(pid: pid, start: start)
        }
    }

    /// Stops `timer` (nothing happens when it has already gone).
    static func stop(_ timer: SetupState.Timer?) {
        switch timer {
        case .process(let pid, let start):
            // Only the process that was started: a pid of the same number
            // with another start time is someone else's.
            if let now = SetupLogin.stat(pid), now.start == start { kill(pid, SIGTERM) }
        case .systemd(let unit):
            stopUnit(unit)
        case nil:
            break
        }
    }

    /// True when `timer` is still there to undo the change.
    static func isRunning(_ timer: SetupState.Timer?) -> Bool {
        switch timer {
        case .process(let pid, let start):
            guard let now = SetupLogin.stat(pid), now.start == start else { return false }
            // A zombie (its parent, setup, has not reaped it) is gone too.
            return !((try? SetupFile.read("/proc/\(pid)/stat"))?.text.contains(") Z ") ?? true)
        case .systemd(let unit):
            guard let systemctl = SetupProgram.find("systemctl"),
                  let result = try? SetupProgram.run(systemctl, ["is-active", "--quiet", unit + ".timer"]) else { return false }
            return result.succeeded
        case nil:
            return false
        }
    }

    private static func stopUnit(_ unit: String) {
        guard let systemctl = SetupProgram.find("systemctl") else { return }
        _ = try? SetupProgram.run(systemctl, ["stop", unit + ".timer", unit + ".service"])
        _ = try? SetupProgram.run(systemctl, ["reset-failed", unit + ".timer", unit + ".service"])
    }

    /// This program's path, for systemd to run it again.
    private static func selfPath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "/usr/bin/twostep" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The timer's own run (`setup --undo --after-timeout TOKEN`): ignore
    /// SIGHUP, let go of inherited descriptors and the working directory,
    /// then sleep until the deadline of the set-up `token`. Returns false
    /// when there is nothing left to wait for (confirmed, undone, another
    /// set-up); true once the deadline has passed.
    static func wait(for token: String, in directory: SetupStateDirectory) -> Bool {
        signal(SIGHUP, SIG_IGN)
        closefrom(3)
        _ = chdir("/")
        while true {
            guard let state = try? directory.load(), state.token == token, state.phase == .pending else { return false }
            let left = state.deadline - Int(Clock.now)
            if left <= 0 { return true }
            var pause = timespec(tv_sec: min(left, 1), tv_nsec: 0)
            nanosleep(&pause, nil)
        }
    }
}
