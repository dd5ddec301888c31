#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TwoStepVarlink

/// The Varlink server: every socket twostepd serves, on one event loop,
/// with interface calls on thread pools: one for io.twostep.Manage, one
/// for the root-only sockets (io.twostep.Login), so that users' calls
/// cannot take the module's threads; and at most
/// `DaemonLimits.callsPerUser` calls of one ordinary uid at once.
///
/// Runs until graceful shutdown (SIGTERM, SIGINT) or, with an idle limit,
/// until no connection has been open for that long. Then it stops
/// accepting, lets running calls finish (up to `DaemonLimits.shutdownGrace`),
/// closes every connection and removes the socket files it bound.
final class VarlinkServer: Service {
    /// A listening socket and what it serves.
    struct Listener: Sendable {
        /// The interface name the socket is named after, for logs.
        let name: String
        let descriptor: Int32
        let service: VarlinkService
        /// Only peers with uid 0 are served (io.twostep.Login).
        let rootOnly: Bool
        /// Its connection budget: its own, so that no socket's users can
        /// take another's connections.
        var budget: ConnectionTracker.Budget {
            rootOnly ? DaemonLimits.rootOnlyConnections : DaemonLimits.manageConnections
        }
        /// The socket file to remove on exit: set when twostepd bound it.
        let bound: SocketBinding.BoundSocket?
    }

    private let listeners: [Listener]
    private let idleExit: TimeAmount?
    private let logger: Logger

    init(listeners: [Listener], idleExit: TimeAmount?, logger: Logger) {
        self.listeners = listeners
        self.idleExit = idleExit
        self.logger = logger
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: DaemonLimits.callThreads)
        pool.start()
        let rootPool = NIOThreadPool(numberOfThreads: DaemonLimits.rootOnlyCallThreads)
        rootPool.start()
        let tracker = ConnectionTracker(logger: logger)
        var serverChannels: [any Channel] = []
        do {
            for listener in listeners {
                serverChannels.append(try await bootstrap(
                    listener, group: group, pool: listener.rootOnly ? rootPool : pool, tracker: tracker))
                logger.info("listening", metadata: ["socket": "\(listener.bound?.path ?? listener.name)"])
            }
        } catch {
            for channel in serverChannels { try? await channel.close() }
            removeSocketFiles()
            try? await pool.shutdownGracefully()
            try? await rootPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }

        let idleExit = self.idleExit
        let logger = self.logger
        let services = listeners.map(\.service)
        do {
            try await cancelWhenGracefulShutdown {
                try await Self.waitForIdle(tracker, idleExit, logger) {
                    services.contains { $0.holdsState }
                }
            }
        } catch {
            // Cancelled by graceful shutdown (or the group).
        }
        logger.info("shutting down", metadata: ["connections": "\(tracker.openCount)"])

        for channel in serverChannels { try? await channel.close() }
        removeSocketFiles()
        tracker.beginShutdown()
        let deadline = NIODeadline.now() + DaemonLimits.shutdownGrace
        while tracker.openCount > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        if tracker.openCount > 0 {
            logger.warning("closing connections whose calls did not finish in time", metadata: ["connections": "\(tracker.openCount)"])
            tracker.closeAll()
        }
        try? await pool.shutdownGracefully()
        try? await rootPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    private func removeSocketFiles() {
        for listener in listeners {
            if let bound = listener.bound { SocketBinding.remove(bound) }
        }
    }

    /// Returns when for `idleExit` no connection has been open and no
    /// interface has held state (`VarlinkInterface.holdsState`: a phone
    /// confirmation waiting for its answer, sends counted in memory, which
    /// an exit would lose); never when it is nil.
    private static func waitForIdle(
        _ tracker: ConnectionTracker, _ idleExit: TimeAmount?, _ logger: Logger, holdsState: () -> Bool
    ) async throws {
        guard let idleExit, idleExit > .zero else {
            while true { try await Task.sleep(nanoseconds: 3_600_000_000_000) }
        }
        var lastHeld: NIODeadline?
        var loggedHold = false
        while true {
            let now = NIODeadline.now()
            var idle = tracker.idleTime
            if idle != nil, holdsState() {
                lastHeld = now
                if !loggedHold {
                    logger.debug("idle, but an interface holds state: not exiting yet")
                    loggedHold = true
                }
            }
            if let since = lastHeld, let connectionIdle = idle {
                idle = min(connectionIdle, now - since)
            }
            if let idle, idle >= idleExit {
                logger.info("idle, exiting", metadata: ["idle_seconds": "\(idleExit.nanoseconds / 1_000_000_000)"])
                return
            }
            if idle == nil { loggedHold = false }
            var wait = idle.map { idleExit - $0 } ?? idleExit
            if idle != nil && lastHeld != nil { wait = min(wait, DaemonLimits.holdPoll) }
            try await Task.sleep(nanoseconds: UInt64(max(wait.nanoseconds, 50_000_000)))
        }
    }

    private func bootstrap(
        _ listener: Listener, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool, tracker: ConnectionTracker
    ) async throws -> any Channel {
        let logger = self.logger
        let descriptor = listener.descriptor
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.maxMessagesPerRead, value: 16)
            .serverChannelInitializer { channel in
                // NIO listens again with its default backlog (128): ask for ours.
                _ = Glibc.listen(descriptor, DaemonLimits.backlog)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // One read (at most 64 KiB) per read cycle: the handler stops
            // reading while a call runs, and NIO's default of 4 reads a
            // cycle would let a client buffer 4 x 64 KiB meanwhile.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                Self.initialize(channel, listener, pool: pool, tracker: tracker, logger: logger)
            }
            .withBoundSocket(descriptor)
            .get()
    }

    /// A new connection: identified by SO_PEERCRED, admitted within its
    /// socket's and its uid's budget, and given its handler; a failed
    /// future closes it.
    private static func initialize(
        _ channel: any Channel, _ listener: Listener, pool: NIOThreadPool, tracker: ConnectionTracker, logger: Logger
    ) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ConnectionRefused.noCredentials)
        }
        let credentials: EventLoopFuture<PeerCred> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        return credentials.flatMapThrowing { credentials in
            let peer = PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
            if listener.rootOnly && !peer.isRoot {
                logger.warning("refused: this socket serves uid 0 only", metadata: [
                    "socket": "\(listener.name)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                throw ConnectionRefused.notRoot
            }
            let id: Int
            do {
                id = try tracker.admit(channel, socket: listener.name, budget: listener.budget, uid: peer.uid)
            } catch {
                throw ConnectionRefused.limit
            }
            var connectionLogger = logger
            connectionLogger[metadataKey: "socket"] = "\(listener.name)"
            connectionLogger[metadataKey: "connection"] = "\(id)"
            connectionLogger[metadataKey: "uid"] = "\(peer.uid)"
            connectionLogger[metadataKey: "pid"] = "\(peer.pid)"
            try channel.pipeline.syncOperations.addHandler(VarlinkConnectionHandler(
                service: listener.service, peer: peer, pool: pool, calls: tracker,
                callLimit: listener.rootOnly ? nil : .init(perUser: DaemonLimits.callsPerUser, busy: ManageProtocol.ErrorName.busy.qualifiedName),
                logger: connectionLogger))
        }.flatMapErrorThrowing { error in
            if !(error is ConnectionRefused) {
                logger.warning("connection dropped: cannot read its credentials", metadata: ["error": "\(error)"])
            }
            throw error
        }
    }

    /// `struct ucred` of <sys/socket.h> (pid_t, uid_t, gid_t), which Glibc's
    /// module leaves out without _GNU_SOURCE; same layout.
    private struct PeerCred: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    private enum ConnectionRefused: Error {
        case limit, noCredentials, notRoot
    }
}
