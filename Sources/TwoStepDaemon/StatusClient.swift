import FoundationEssentials
import TwoStepVarlink
#if canImport(Glibc)
import Glibc
#endif

/// `twostepd --status`: asks the running twostepd (SOCKET_DIR/io.twostep.Manage,
/// `DatabaseStatus`, root only) and prints what it says of the database
/// (SPEC §13). Exit 0; 2 when the caller is not root; 3 when twostepd
/// cannot be reached.
struct StatusClient {
    let socketDirectory: String

    func run(json: Bool) throws -> Int32 {
        let path = socketDirectory + "/" + ManageProtocol.socketName
        let reply: Data
        do {
            reply = try VarlinkClient(socketPath: path, timeout: 30).call(ManageProtocol.Method.databaseStatus.qualifiedName)
        } catch .reply(let error) {
            let message = error.parameters["message"]?.stringValue ?? error.name
            FileHandleOutput.standardError("twostepd --status: \(message) (\(error.name))\n")
            return 2
        } catch {
            FileHandleOutput.standardError("twostepd --status: cannot reach twostepd: \(error)\n")
            return 3
        }
        if json {
            print(String(decoding: reply, as: UTF8.self))
            return 0
        }
        let status: DatabaseStatus
        do {
            status = try JSONDecoder().decode(DatabaseStatus.self, from: reply)
        } catch {
            FileHandleOutput.standardError("twostepd --status: twostepd gave an answer this client cannot read\n")
            return 3
        }
        print(Self.text(status), terminator: "")
        return 0
    }

    /// The status as lines of `name: value`.
    static func text(_ s: DatabaseStatus) -> String {
        guard s.backend != "file" else { return "backend: file (no database)\n" }
        var lines = ["backend: \(s.backend)", "servers: \(s.hosts.joined(separator: ", "))"]
        lines.append("host: \(s.host ?? "none")")
        if let problem = s.problem { lines.append("problem: \(problem)") }
        lines.append("role: \(s.role ?? "unknown")")
        let sync: String
        switch s.synchronous {
        case true?: sync = "yes"
        case false?: sync = "no"
        case nil: sync = s.problem == nil ? "cannot be seen (GRANT pg_read_all_stats TO the twostep role)" : "unknown"
        }
        lines.append("synchronous standby: \(sync)")
        if let names = s.synchronousStandbyNames {
            lines.append("synchronous_standby_names: '\(names)', synchronous_commit: \(s.synchronousCommit ?? "?")")
        }
        lines.append("standbys: \(s.standbys.isEmpty ? "none" : s.standbyText)")
        lines.append("known down: \(s.knownDown ? "yes" : "no")")
        if let f = s.lastFailover {
            lines.append("last failover: \(Self.time(f.time)), \(f.from) -> \(f.to) (\(f.reason))")
        } else {
            lines.append("last failover: none since start")
        }
        lines.append("calls: \(s.calls), errors: \(s.errors)")
        if let l = s.latencyMs {
            lines.append("latency: p50 \(Self.milliseconds(l.p50)), p90 \(Self.milliseconds(l.p90)), p99 \(Self.milliseconds(l.p99)), max \(Self.milliseconds(l.max))")
        } else {
            lines.append("latency: no calls yet")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `1.23 ms`.
    static func milliseconds(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) ms"
    }

    /// `2026-12-08 00:40:01 UTC`.
    static func time(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "\(seconds)" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}
