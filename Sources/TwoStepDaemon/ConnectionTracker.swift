import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The open connections of every socket: the connection budgets, the idle
/// time that ends a socket-activated daemon, and graceful shutdown.
///
/// Each listener has its own budget (`Budget`), so that filling one socket
/// (io.twostep.Manage, open to every user) never refuses root on another
/// (io.twostep.Login, root only). Within a budget an ordinary uid may hold
/// `perUser` connections, and ordinary uids together leave
/// `reservedForRoot` free; root (uid 0) has no per-uid cap.
final class ConnectionTracker: Sendable {
    struct Budget: Sendable, Hashable {
        /// Connections of this listener open at once.
        let total: Int
        /// Connections one uid other than 0 may hold at once (all sockets).
        let perUser: Int
        /// Of `total`, what only uid 0 may use.
        let reservedForRoot: Int
    }

    enum Refusal: Error, CustomStringConvertible {
        case shuttingDown
        case full(socket: String, limit: Int)
        case userLimit(uid: UInt32, limit: Int)

        var description: String {
            switch self {
            case .shuttingDown: "shutting down"
            case .full(let socket, let limit): "\(limit) connections already open on \(socket)"
            case .userLimit(let uid, let limit): "uid \(uid) already has \(limit) connections open"
            }
        }
    }

    private struct Connection {
        let channel: any Channel
        let socket: String
        let uid: UInt32
    }

    private struct State {
        var open: [Int: Connection] = [:]
        var perSocket: [String: Int] = [:]
        var perUser: [UInt32: Int] = [:]
        /// Calls running or queued for a thread, by uid (`beginCall`).
        var calls: [UInt32: Int] = [:]
        var nextID = 1
        var idleSince = NIODeadline.now()
        var accepting = true
        var refused = 0
        var lastRefusalLog = NIODeadline.uptimeNanoseconds(0)
    }

    private let state = NIOLockedValueBox(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Registers a new connection of `uid` on `socket`; throws when it must
    /// be refused (over a budget, or shutting down). It is forgotten when
    /// it closes. Refusals are logged at most once a second.
    func admit(_ channel: any Channel, socket: String, budget: Budget, uid: UInt32) throws(Refusal) -> Int {
        let (outcome, refusedLog): (Result<Int, Refusal>, Int?) = state.withLockedValue { state in
            let onSocket = state.perSocket[socket, default: 0]
            let refusal: Refusal? =
                if !state.accepting {
                    .shuttingDown
                } else if onSocket >= budget.total {
                    .full(socket: socket, limit: budget.total)
                } else if uid != 0 && onSocket >= budget.total - budget.reservedForRoot {
                    .full(socket: socket, limit: budget.total - budget.reservedForRoot)
                } else if uid != 0 && state.perUser[uid, default: 0] >= budget.perUser {
                    .userLimit(uid: uid, limit: budget.perUser)
                } else {
                    nil
                }
            if let refusal {
                state.refused += 1
                let now = NIODeadline.now()
                guard now - state.lastRefusalLog >= .seconds(1) else { return (.failure(refusal), nil) }
                state.lastRefusalLog = now
                defer { state.refused = 0 }
                return (.failure(refusal), state.refused)
            }
            let id = state.nextID
            state.nextID += 1
            state.open[id] = Connection(channel: channel, socket: socket, uid: uid)
            state.perSocket[socket] = onSocket + 1
            state.perUser[uid, default: 0] += 1
            return (.success(id), nil)
        }
        switch outcome {
        case .success(let id):
            channel.closeFuture.whenComplete { _ in self.remove(id) }
            return id
        case .failure(let refusal):
            if let refusedLog {
                logger.warning("connections refused: \(refusal)", metadata: ["refused": "\(refusedLog)"])
            }
            throw refusal
        }
    }

    private func remove(_ id: Int) {
        state.withLockedValue { state in
            guard let connection = state.open.removeValue(forKey: id) else { return }
            state.perSocket[connection.socket, default: 1] -= 1
            let left = state.perUser[connection.uid, default: 1] - 1
            state.perUser[connection.uid] = left > 0 ? left : nil
            if state.open.isEmpty { state.idleSince = .now() }
        }
    }

    /// Counts a call of `uid` about to run on a thread; false (nothing
    /// counted) when that uid already has `limit` calls running or
    /// waiting. Root (uid 0) is not limited. Every true is followed by
    /// `endCall(uid:)` once the call is answered.
    func beginCall(uid: UInt32, limit: Int) -> Bool {
        guard uid != 0 else { return true }
        return state.withLockedValue { state in
            let running = state.calls[uid, default: 0]
            guard running < limit else { return false }
            state.calls[uid] = running + 1
            return true
        }
    }

    /// The end of a call counted by `beginCall`.
    func endCall(uid: UInt32) {
        guard uid != 0 else { return }
        state.withLockedValue { state in
            let left = state.calls[uid, default: 1] - 1
            state.calls[uid] = left > 0 ? left : nil
        }
    }

    var openCount: Int {
        state.withLockedValue { $0.open.count }
    }

    /// How long there has been no connection open; nil while one is.
    var idleTime: TimeAmount? {
        state.withLockedValue { state in
            state.open.isEmpty ? NIODeadline.now() - state.idleSince : nil
        }
    }

    /// Stops admitting and asks every open connection to close once its
    /// running call (if any) has been answered.
    func beginShutdown() {
        let channels = state.withLockedValue { state in
            state.accepting = false
            return state.open.values.map(\.channel)
        }
        for channel in channels {
            channel.triggerUserOutboundEvent(VarlinkConnectionHandler.Drain(), promise: nil)
        }
    }

    /// Closes whatever is still open.
    func closeAll() {
        for channel in state.withLockedValue({ $0.open.values.map(\.channel) }) {
            channel.close(promise: nil)
        }
    }
}
