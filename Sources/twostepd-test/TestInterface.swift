import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import TwoStepVarlink

/// `io.twostep.Test`: served by twostepd-test (never by twostepd) with
/// `--test-interface` (and `--socket-dir`), on DIR/io.twostep.Test (mode
/// 0600, uid 0 only), so that the protocol tests have methods that do not
/// depend on io.twostep.Manage: one that blocks (the server must keep
/// serving other clients), one that echoes, one that fails, one that says
/// who called, and one that holds state for a while (the idle exit must wait).
struct TestInterface: VarlinkInterface {
    static let interface = "io.twostep.Test"

    enum Method: String, VarlinkMember {
        case sleep = "Sleep", echo = "Echo", peer = "Peer", hold = "Hold", fail = "Fail"
        static var interface: String { TestInterface.interface }
    }

    static let failed = "Failed"

    let name = Self.interface
    let description = """
        # For twostepd's own tests only (twostepd-test --test-interface).
        interface \(Self.interface)

        # Blocks for that many seconds (at most 20), like a call that waits
        # for a lock or a channel plugin.
        method \(Method.sleep)(seconds: float) -> ()

        # Returns its text.
        method \(Method.echo)(text: string) -> (text: string)

        # The caller as SO_PEERCRED reports it.
        method \(Method.peer)() -> (uid: int, gid: int, pid: int)

        # Holds state (holdsState) for that many seconds (at most 60) from
        # now: the daemon does not exit for idleness meanwhile.
        method \(Method.hold)(seconds: float) -> ()

        # Always fails with \(Self.failed).
        method \(Method.fail)() -> ()

        error \(Self.failed) (reason: string)

        """

    private struct SleepParameters: Decodable { var seconds: Double }
    private struct EchoParameters: Codable { var text: String }
    private let heldUntil = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    var holdsState: Bool {
        heldUntil.withLockedValue { until in until.map { $0 > .now } ?? false }
    }

    private struct PeerReply: Encodable { var uid: UInt32, gid: UInt32, pid: Int32 }

    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data {
        guard let known = Method(rawValue: method) else { throw .methodNotFound("\(name).\(method)") }
        let fields = Self.parameterNames[known] ?? []
        switch known {
        case .sleep:
            let seconds = try VarlinkCoding.decode(SleepParameters.self, from: parameters, fields: fields).seconds
            guard seconds.isFinite, seconds >= 0, seconds <= 20 else { throw .invalidParameter("seconds") }
            var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
            var left = timespec()
            while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
            return Data("{}".utf8)
        case .hold:
            let seconds = try VarlinkCoding.decode(SleepParameters.self, from: parameters, fields: fields).seconds
            guard seconds.isFinite, seconds >= 0, seconds <= 60 else { throw .invalidParameter("seconds") }
            heldUntil.withLockedValue { $0 = .now + .milliseconds(Int64(seconds * 1000)) }
            return Data("{}".utf8)
        case .echo:
            return try VarlinkCoding.encode(
                try VarlinkCoding.decode(EchoParameters.self, from: parameters, fields: fields))
        case .peer:
            _ = try VarlinkCoding.decode(VarlinkValue.self, from: parameters, fields: fields)
            return try VarlinkCoding.encode(PeerReply(uid: peer.uid, gid: peer.gid, pid: peer.pid))
        case .fail:
            throw VarlinkError(name: name + "." + Self.failed, parameters: ["reason": "asked to fail"])
        }
    }

    /// Each method's parameter names, as the description declares them.
    static let parameterNames: [Method: Set<String>] = VarlinkIDL.parameterNames(of: try? VarlinkIDL.parse(TestInterface().description))
}
