import ArgumentParser
import TwoStepAccounts
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `twostep report [--json]`: every account that can log in and the state
/// of its two-step verification, for the step from `nullok` to enforced.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Root only: list every account with a login shell and its two-step verification state.",
        discussion: """
            One row per account whose login shell (an empty one is /bin/sh) is an \
            executable file not named 'nologin' or 'false' (the rule sshd applies, and \
            'setup sshd --enforce' too), in password-database order: whether it is enrolled, its methods, security keys enrolled (KEYS; "keys" in JSON), backup codes left, when a code was \
            last accepted, wrong codes in a row and any running lock-out, and its trusted \
            devices (all, and those a login would still honour). Each record is found as \
            the other commands find it (store= of twostep.conf, or --store; %h and %u per \
            account) and read as 'twostep status --user' reads it: a file in a directory \
            the user owns with the user's identity, an administrator-managed one as root. \
            Nothing is written. A record that is unsafe, corrupt or cannot be read is shown \
            as 'unreadable' with the reason in its own row; one whose lock another process \
            holds for more than 5 s (a user's 'flock ~/.twostep') as 'busy'; the report goes \
            on. Times are local; --json gives Unix seconds. In --json each account has \
            "keys", the number of security keys enrolled (null where the record was not read).

            Exit status 0 when the report was made (whatever the rows say), 2 for a usage \
            error (also when not run as root).
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the factor files are: a path in which %u stands for the user name and %h for the home directory. Default: store= of /etc/twostep/twostep.conf, else %h/.twostep.",
            valueName: "template"))
    var store: String?

    @Flag(help: "Print one JSON object on standard output: {\"accounts\": [...], \"summary\": {...}} (times in Unix seconds, null where unknown).")
    var json = false

    func validate() throws {
        guard geteuid() == 0 else {
            throw ValidationError("report is for root only: it reads every user's factor file; 'twostep status' shows your own")
        }
        if let store {
            do { _ = try StorePathTemplate(store) } catch { throw ValidationError("--store: \(error)") }
        }
    }

    func run() throws {
        let configuration = try SystemSettings.load()
        let template = try store.map { try StorePathTemplate($0) } ?? configuration.options.store
        let now = Clock.now
        let rows = LoginAccount.all().map {
            AccountReportRow($0, template: template, configuration: configuration, now: now)
        }
        let report = AccountReport(accounts: rows, template: template, now: now, databaseWarning: configuration.databaseWarning)
        if json { try JSONOutput.print(report) } else { report.show() }
    }
}

extension AccountReport {
    /// The table, aligned, and a summary line.
    func show() {
        let header = ["USER", "ENROLLED", "METHODS", "KEYS", "BACKUP CODES", "LAST CODE", "FAILURES", "LOCKED OUT", "TRUSTED DEVICES", "NOTE"]
        let now = generated
        let table = accounts.map { row -> [String] in
            let dash = "-"
            guard row.enrolled != .unreadable, row.enrolled != .busy else {
                let note = [row.problem?.rawValue, row.error].compactMap { $0 }.joined(separator: ": ")
                return [row.user, row.enrolled.rawValue, dash, dash, dash, dash, dash, dash, dash, note]
            }
            guard row.recordExists == true else { return [row.user, "no", dash, dash, dash, dash, dash, dash, dash, ""] }
            let trusted = row.trustedDevices ?? 0
            return [
                row.user,
                row.enrolled.rawValue,
                row.methodsText ?? "none",
                row.securityKeys.map(String.init) ?? dash,
                row.backupCodesLeft.map(String.init) ?? dash,
                row.lastAccepted.map { ReportTime.text($0, now: now) } ?? "never",
                row.failures.map(String.init) ?? dash,
                row.lockedUntil.map { "until " + ReportTime.text($0, now: now) } ?? "no",
                trusted == 0 ? "0" : "\(trusted) (\(row.trustedDevicesValid ?? 0) valid)",
                row.enrolled == .no ? "the record holds no method" : "",
            ]
        }
        // Cells from records escaped whole (a note may quote a file's line).
        let all = ([header] + table).map { $0.map(Console.field) }
        var widths = [Int](repeating: 0, count: header.count)
        for line in all {
            for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        for line in all {
            var text = ""
            for (i, cell) in line.enumerated() {
                text += i == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            while text.hasSuffix(" ") { text.removeLast() }
            Console.out(text)
        }
        var summary = "\(self.summary.accounts) accounts, \(self.summary.enrolled) enrolled, \(self.summary.lockedOut) locked out"
        if self.summary.unreadable > 0 { summary += ", \(self.summary.unreadable) unreadable" }
        if self.summary.busy > 0 { summary += ", \(self.summary.busy) busy" }
        Console.out(summary + " (store \(Console.field(storeTemplate)); \(Clock.local(now)))")
        if let databaseWarning { Console.out("Warning: \(databaseWarning).") }
    }
}

/// Times as a person reads them in a table: `2026-12-01 22:40 (3 min ago)`.
enum ReportTime {
    static func text(_ t: Int64, now: Int64) -> String {
        var seconds = time_t(t)
        var parts = tm()
        var buffer = [CChar](repeating: 0, count: 32)
        guard localtime_r(&seconds, &parts) != nil, strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M", &parts) > 0 else {
            return "@\(t)"
        }
        let date = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(date) (\(relative(t, now: now)))"
    }

    /// `45 s ago`, `12 min ago`, `5 h ago`, `3 d ago`; `in …` for the future.
    static func relative(_ t: Int64, now: Int64) -> String {
        let d = UnixTime.subtracting(t, now)
        let a = d.magnitude
        let amount = a < 60 ? "\(a) s" : a < 3_600 ? "\(a / 60) min" : a < 172_800 ? "\(a / 3_600) h" : "\(a / 86_400) d"
        return d > 0 ? "in \(amount)" : "\(amount) ago"
    }
}
