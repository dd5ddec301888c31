#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TwoStepVarlink

/// The Varlink server: every socket twostepd serves, on one event loop,
/// with interface calls on a thread pool.
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
        let tracker = ConnectionTracker(limit: DaemonLimits.connections, logger: logger)
        var serverChannels: [any Channel] = []
        do {
            for listener in listeners {
                serverChannels.append(try await bootstrap(listener, group: group, pool: pool, tracker: tracker))
                logger.info("listening", metadata: ["socket": "\(listener.bound?.path ?? listener.name)"])
            }
        } catch {
            for channel in serverChannels { try? await channel.close() }
            removeSocketFiles()
            try? await pool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }

        let idleExit = self.idleExit
        let logger = self.logger
        do {
            try await cancelWhenGracefulShutdown {
                try await Self.waitForIdle(tracker, idleExit, logger)
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
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    private func removeSocketFiles() {
        for listener in listeners {
            if let bound = listener.bound { SocketBinding.remove(bound) }
        }
    }

    /// Returns when no connection has been open for `idleExit`; never when it is nil.
    private static func waitForIdle(_ tracker: ConnectionTracker, _ idleExit: TimeAmount?, _ logger: Logger) async throws {
        guard let idleExit, idleExit > .zero else {
            while true { try await Task.sleep(nanoseconds: 3_600_000_000_000) }
        }
        while true {
            let idle = tracker.idleTime
            if let idle, idle >= idleExit {
                logger.info("idle, exiting", metadata: ["idle_seconds": "\(idleExit.nanoseconds / 1_000_000_000)"])
                return
            }
            let wait = idle.map { idleExit - $0 } ?? idleExit
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
            .childChannelInitializer { channel in
                Self.initialize(channel, listener, pool: pool, tracker: tracker, logger: logger)
            }
            .withBoundSocket(descriptor)
            .get()
    }

    /// A new connection: admitted, identified by SO_PEERCRED, and given its
    /// handler; a failed future closes it.
    private static func initialize(
        _ channel: any Channel, _ listener: Listener, pool: NIOThreadPool, tracker: ConnectionTracker, logger: Logger
    ) -> EventLoopFuture<Void> {
        guard let id = tracker.admit(channel) else {
            return channel.eventLoop.makeFailedFuture(ConnectionRefused.limit)
        }
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ConnectionRefused.noCredentials)
        }
        let credentials: EventLoopFuture<PeerCred> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        return credentials.flatMapThrowing { credentials in
            let peer = PeerCredentials(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid)
            var connectionLogger = logger
            connectionLogger[metadataKey: "socket"] = "\(listener.name)"
            connectionLogger[metadataKey: "connection"] = "\(id)"
            connectionLogger[metadataKey: "uid"] = "\(peer.uid)"
            connectionLogger[metadataKey: "pid"] = "\(peer.pid)"
            if listener.rootOnly && !peer.isRoot {
                connectionLogger.warning("refused: this socket serves uid 0 only")
                throw ConnectionRefused.notRoot
            }
            try channel.pipeline.syncOperations.addHandler(
                VarlinkConnectionHandler(service: listener.service, peer: peer, pool: pool, logger: connectionLogger))
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
