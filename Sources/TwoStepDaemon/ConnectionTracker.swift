import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The open connections of every socket: the connection limit, the idle
/// time that ends a socket-activated daemon, and graceful shutdown.
final class ConnectionTracker: Sendable {
    private struct State {
        var open: [Int: any Channel] = [:]
        var nextID = 1
        var idleSince = NIODeadline.now()
        var accepting = true
        var refused = 0
        var lastRefusalLog = NIODeadline.uptimeNanoseconds(0)
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())
    private let logger: Logger

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// Registers a new connection; nil when it must be refused (at the
    /// limit, or shutting down). It is forgotten when it closes.
    func admit(_ channel: any Channel) -> Int? {
        let (id, refusedLog): (Int?, Int?) = state.withLockedValue { state in
            guard state.accepting, state.open.count < limit else {
                state.refused += 1
                let now = NIODeadline.now()
                // At most one log line a second about refused connections.
                guard now - state.lastRefusalLog >= .seconds(1) else { return (nil, nil) }
                state.lastRefusalLog = now
                defer { state.refused = 0 }
                return (nil, state.refused)
            }
            let id = state.nextID
            state.nextID += 1
            state.open[id] = channel
            return (id, nil)
        }
        if let refusedLog {
            logger.warning("connections refused: \(limit) already open or shutting down", metadata: ["refused": "\(refusedLog)"])
        }
        if let id {
            channel.closeFuture.whenComplete { _ in self.remove(id) }
        }
        return id
    }

    private func remove(_ id: Int) {
        state.withLockedValue { state in
            state.open[id] = nil
            if state.open.isEmpty { state.idleSince = .now() }
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
            return Array(state.open.values)
        }
        for channel in channels {
            channel.triggerUserOutboundEvent(VarlinkConnectionHandler.Drain(), promise: nil)
        }
    }

    /// Closes whatever is still open.
    func closeAll() {
        for channel in state.withLockedValue({ Array($0.open.values) }) {
            channel.close(promise: nil)
        }
    }
}
