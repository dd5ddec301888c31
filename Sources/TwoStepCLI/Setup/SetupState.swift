import TwoStepCore

/// What `twostep setup sshd` or `setup sudo` did and how far the roll-out
/// is, as kept in the target's state directory (`SetupStateDirectory`): one
/// `key value` line each, read back by `--confirm`, `--undo`, `--status`
/// and the undo timer. A state without a `target` line (older versions)
/// is sshd's. `method`, `enforce` and `security-keys` are sshd's options: a
/// sudo state has no such lines (and the fields their defaults), and its
/// `reload` is not used (sudo and sshd read pam.d files at each login).
struct SetupState: Equatable {
    enum Phase: String {
        /// Files are being written (a crash here leaves a state --undo can use).
        case applying
        /// In force, waiting for `--confirm` until `deadline`.
        case pending
        /// Confirmed: stays until `--undo`.
        case confirmed
    }

    /// How the undo timer runs.
    enum Timer: Equatable {
        /// A detached process: its pid and start time (clock ticks after
        /// boot, /proc/PID/stat), so a recycled pid is never signalled.
        case process(pid: Int32, start: UInt64)
        /// A transient systemd timer (systemd-run --on-active): the unit name, without .timer.
        case systemd(unit: String)
    }

    /// One file setup changed: `index` names its copies in the state directory.
    struct File: Equatable {
        var index: Int
        var path: String
        /// False when setup created it (undo removes it).
        var existed: Bool
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
    }

    /// Which target this set-up is of.
    var target: SetupTarget = .sshd
    /// sudo: `--recent`, the seconds a verified login counts for sudo.
    var recent: Int = 0
    /// Random, per set-up: the timer acts only on the set-up that started it.
    var token: String
    var phase: Phase
    var method: SSHDMethod
    var enforce: Bool
    /// `--security-keys` (`.off` without it, and in state files of older versions).
    var securityKeys: SecurityKeyPolicy = .off
    var module: String
    var reload: SSHDReload
    var timeout: Int
    /// When the change was in force (sshd reloaded), Unix seconds.
    var applied: Int = 0
    /// The same moment in clock ticks after boot (CLOCK_BOOTTIME), to
    /// compare with a process's start time.
    var appliedTicks: UInt64 = 0
    /// /proc/sys/kernel/random/boot_id then: ticks of another boot mean nothing.
    var bootID: String = ""
    var deadline: Int = 0
    /// The audit session (/proc/self/sessionid) that ran setup, when the kernel keeps one.
    var auditSession: UInt32?
    /// Who ran setup, for --status.
    var setupBy: String = ""
    var timer: Timer?
    var confirmed: Int?
    var confirmedBy: String?
    var files: [File] = []
    /// Directories setup made (undo removes them when empty).
    var createdDirectories: [String] = []

    static let header = "twostep-setup 1"

    /// The drop-in this set-up wrote.
    var dropIn: SSHDDropIn { SSHDDropIn(method: method, securityKeys: securityKeys) }

    /// The file's text.
    var text: String {
        var lines = [
            Self.header,
            "# written by 'twostep setup'; read by 'twostep setup --confirm', '--undo', '--status'",
            "target \(target.rawValue)", "token \(token)", "phase \(phase.rawValue)",
        ]
        switch target {
        case .sshd:
            lines += ["method \(method.rawValue)", "enforce \(enforce ? "yes" : "no")", "security-keys \(securityKeys.rawValue)"]
        case .sudo:
            lines += ["recent \(recent)"]
        }
        lines += [
            "module \(module)", "reload \(reload.rawValue)", "timeout \(timeout)", "applied \(applied)", "applied-ticks \(appliedTicks)", "boot-id \(bootID)",
            "deadline \(deadline)", "audit-session \(auditSession.map(String.init) ?? "none")", "setup-by \(setupBy)",
        ]
        switch timer {
        case .process(let pid, let start): lines.append("timer process \(pid) \(start)")
        case .systemd(let unit): lines.append("timer systemd \(unit)")
        case nil: break
        }
        if let confirmed { lines.append("confirmed \(confirmed)") }
        if let confirmedBy { lines.append("confirmed-by \(confirmedBy)") }
        for f in files {
            lines.append("file \(f.index) \(f.existed ? "old" : "new") \(String(f.mode, radix: 8)) \(f.uid) \(f.gid) \(f.path)")
        }
        for d in createdDirectories { lines.append("directory \(d)") }
        return lines.joined(separator: "\n") + "\n"
    }

    init(token: String, phase: Phase, method: SSHDMethod, enforce: Bool, module: String, reload: SSHDReload, timeout: Int) {
        self.token = token
        self.phase = phase
        self.method = method
        self.enforce = enforce
        self.module = module
        self.reload = reload
        self.timeout = timeout
    }

    /// A random token for a new set-up.
    static func newToken() -> String {
        String(UInt64.random(in: .min ... .max), radix: 16)
    }

    /// Notes who starts this set-up, from which login, on which boot.
    mutating func noteStart() {
        let login = SetupLogin.current()
        auditSession = login.auditSession
        setupBy = login.description
        bootID = SetupLogin.bootID()
    }

    /// Parses the file's text; nil with a reason when it is not one.
    init(parsing text: String, path: String) throws(CLIError) {
        func bad(_ why: String) -> CLIError {
            .failure("\(path): \(why); look at it, or remove it to forget the set-up (the copies of the old files are next to it)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.first == Self.header else { throw bad("not a twostep setup state file") }
        lines.removeFirst()
        var values = [String: String]()
        var files = [File]()
        var directories = [String]()
        for line in lines where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? parts[1] : ""
            switch key {
            case "file":
                let f = value.split(separator: " ", maxSplits: 5).map(String.init)
                guard f.count == 6, let index = Int(f[0]), f[1] == "old" || f[1] == "new",
                      let mode = UInt32(f[2], radix: 8), let uid = UInt32(f[3]), let gid = UInt32(f[4]) else {
                    throw bad("bad line '\(line)'")
                }
                files.append(File(index: index, path: f[5], existed: f[1] == "old", mode: mode, uid: uid, gid: gid))
            case "directory":
                directories.append(value)
            default:
                guard values[key] == nil else { throw bad("'\(key)' twice") }
                values[key] = value
            }
        }
        func need(_ key: String) throws(CLIError) -> String {
            guard let v = values[key] else { throw bad("no '\(key)' line") }
            return v
        }
        func number(_ key: String) throws(CLIError) -> Int {
            guard let n = Int(try need(key)) else { throw bad("bad '\(key)'") }
            return n
        }
        guard let target = SetupTarget(rawValue: values["target"] ?? "sshd") else { throw bad("bad 'target'") }
        let sshd = target == .sshd
        guard let phase = Phase(rawValue: try need("phase")),
              let method = sshd ? SSHDMethod(rawValue: try need("method")) : .password,
              let reload = SSHDReload(rawValue: try need("reload")) else { throw bad("bad phase, method or reload") }
        self.init(token: try need("token"), phase: phase, method: method, enforce: sshd ? try need("enforce") == "yes" : false,
                  module: try need("module"), reload: reload, timeout: try number("timeout"))
        self.target = target
        if !sshd { recent = try number("recent") }
        if let keys = values["security-keys"] {
            guard let policy = SecurityKeyPolicy(rawValue: keys) else { throw bad("bad 'security-keys'") }
            securityKeys = policy
        }
        applied = try number("applied")
        guard let ticks = UInt64(try need("applied-ticks")) else { throw bad("bad 'applied-ticks'") }
        appliedTicks = ticks
        bootID = values["boot-id"] ?? ""
        deadline = try number("deadline")
        auditSession = values["audit-session"].flatMap(UInt32.init)
        setupBy = values["setup-by"] ?? ""
        if let t = values["timer"] {
            let f = t.split(separator: " ").map(String.init)
            if f.count == 3, f[0] == "process", let pid = Int32(f[1]), let start = UInt64(f[2]) {
                timer = .process(pid: pid, start: start)
            } else if f.count == 2, f[0] == "systemd" {
                timer = .systemd(unit: f[1])
            } else {
                throw bad("bad 'timer'")
            }
        }
        confirmed = values["confirmed"].flatMap(Int.init)
        confirmedBy = values["confirmed-by"]
        self.files = files
        createdDirectories = directories
    }
}
