import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import TwoStepVarlink

/// One client connection: NUL-framed messages in, replies out, one call at
/// a time and in order.
///
/// - Messages are read only while no call runs and no complete message is
///   waiting, and replies are produced only while the channel is writable:
///   a client that pipelines, or never reads its replies, holds at most one
///   message (64 KiB) and one write buffer.
/// - Interface calls run on the thread pool; org.varlink.service and errors
///   are answered here, on the event loop. With a `CallLimit`, a call of
///   an ordinary uid that already has that many calls running or waiting
///   (on any connection) is answered at once with its `busy` error.
/// - A message over 64 KiB or one that is not a Varlink call gets
///   `org.varlink.service.InvalidParameter` (`parameter` names the part:
///   `message`, `method`, …) and the connection is closed.
/// - No complete message for `DaemonLimits.idleTimeout` while no call of
///   its own runs: closed. Open for `DaemonLimits.connectionLifetime`:
///   closed once the running call (if any) is answered.
/// - Opening and closing are logged at debug only: any user can open
///   connections as fast as they like.
/// - Parameter values are never logged: only method and error names.
final class VarlinkConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Outbound user event: finish the running call, then close (shutdown).
    struct Drain: Sendable {}

    private let service: VarlinkService
    private let peer: PeerCredentials
    private let pool: NIOThreadPool
    /// Counts each uid's calls (`ConnectionTracker.beginCall`).
    private let calls: ConnectionTracker
    /// How many calls one ordinary uid may have running or waiting, and
    /// what a call over that gets.
    struct CallLimit: Sendable {
        let perUser: Int
        /// The error's fully qualified name (`ManageProtocol.ErrorName.busy`).
        let busy: String
    }

    /// nil: no limit (root-only sockets).
    private let callLimit: CallLimit?
    private let logger: Logger
    private var framer = VarlinkFramer(limit: DaemonLimits.messageBytes)
    /// An interface call of this connection is running on the pool.
    private var busy = false
    /// A read was asked for while we were not ready for more input.
    private var readPending = false
    private var inputClosed = false
    private var draining = false
    /// Closing (after a protocol error) or closed: nothing more is processed.
    private var closing = false
    private var idleTimer: Scheduled<Void>?
    private var lifetimeTimer: Scheduled<Void>?

    init(service: VarlinkService, peer: PeerCredentials, pool: NIOThreadPool, calls: ConnectionTracker,
         callLimit: CallLimit?, logger: Logger) {
        self.service = service
        self.peer = peer
        self.pool = pool
        self.calls = calls
        self.callLimit = callLimit
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { started(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        started(context)
        context.fireChannelActive()
    }

    private func started(_ context: ChannelHandlerContext) {
        armIdleTimer(context)
        guard lifetimeTimer == nil else { return }
        logger.debug("connection opened")
        lifetimeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: DaemonLimits.connectionLifetime) {
            self.lifetimeTimer = nil
            guard !self.closing else { return }
            self.logger.debug("open for \(DaemonLimits.connectionLifetime.nanoseconds / 1_000_000_000) s, closing")
            self.draining = true
            if !self.busy { self.close(context) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        lifetimeTimer?.cancel()
        lifetimeTimer = nil
        logger.debug("connection closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let bytes = unwrapInboundIn(data)
        framer.append(bytes.readableBytesView)
        processMessages(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            processMessages(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { processMessages(context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error, closing", metadata: ["error": "\(error)"])
        close(context)
    }

    func read(context: ChannelHandlerContext) {
        if busy || closing || framer.hasCompleteMessage {
            readPending = true
        } else {
            context.read()
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Drain else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        draining = true
        if !busy { close(context) }
        promise?.succeed(())
    }

    // MARK: - Messages

    /// Handles complete messages until a call goes to the pool, the channel
    /// is not writable, or no complete message is left.
    private func processMessages(_ context: ChannelHandlerContext) {
        while !busy && !closing {
            if draining {
                close(context)
                return
            }
            guard context.channel.isWritable else { return }
            let message: [UInt8]
            do {
                guard let next = try framer.nextMessage() else {
                    if inputClosed {
                        close(context)
                    } else if readPending {
                        readPending = false
                        context.read()
                    }
                    return
                }
                message = next
            } catch {
                logger.notice("message over \(DaemonLimits.messageBytes) bytes, closing")
                failConnection(context, reply: VarlinkReply.encode(error: .invalidParameter("message")))
                return
            }
            armIdleTimer(context)
            switch service.dispatch(message) {
            case .reply(let reply, let error):
                if let error { logger.info("call answered with an error", metadata: ["error": "\(error)"]) }
                if let reply { write(context, reply) }
            case .protocolError(let reply, let reason):
                logger.notice("not a Varlink call (\(reason)), closing")
                failConnection(context, reply: reply)
                return
            case .call(let call):
                start(call, context)
            }
        }
    }

    private func start(_ call: VarlinkCall, _ context: ChannelHandlerContext) {
        let uid = peer.uid
        if let callLimit, !calls.beginCall(uid: uid, limit: callLimit.perUser) {
            let limit = callLimit.perUser
            logger.info("call refused: \(limit) calls of this uid already running or waiting", metadata: ["method": "\(call.method)"])
            let error = VarlinkError(name: callLimit.busy, parameters: [
                "message": .string("busy: uid \(uid) already has \(limit) calls running on \(call.interface); try again once they are answered")])
            if let reply = service.finish(call, .failure(error)) { write(context, reply) }
            return
        }
        let counted = callLimit != nil
        busy = true
        idleTimer?.cancel()
        idleTimer = nil
        logger.info("call", metadata: ["method": "\(call.method)", "oneway": "\(call.oneway)"])
        let service = self.service
        let peer = self.peer
        pool.runIfActive(eventLoop: context.eventLoop) {
            service.run(call, peer: peer)
        }.assumeIsolated().whenComplete { outcome in
            if counted { self.calls.endCall(uid: uid) }
            self.busy = false
            guard !self.closing else { return }
            switch outcome {
            case .success(let result):
                if case .failure(let error) = result {
                    self.logger.info("call failed", metadata: ["method": "\(call.method)", "error": "\(error.name)"])
                }
                if let reply = service.finish(call, result) { self.write(context, reply) }
                self.armIdleTimer(context)
                self.processMessages(context)
            case .failure:
                // The pool has stopped: the daemon is going away.
                self.close(context)
            }
        }
    }

    private func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Sends `reply`, then closes (the reply is written first; the idle
    /// timer still closes a peer that never reads it).
    private func failConnection(_ context: ChannelHandlerContext, reply: [UInt8]) {
        closing = true
        var buffer = context.channel.allocator.buffer(capacity: reply.count)
        buffer.writeBytes(reply)
        armIdleTimer(context)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        context.close(promise: nil)
    }

    private func armIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: DaemonLimits.idleTimeout) {
            guard !self.busy else { return }
            self.logger.debug("no complete message for \(DaemonLimits.idleTimeout.nanoseconds / 1_000_000_000) s, closing")
            self.idleTimer = nil
            self.closing = true
            context.close(promise: nil)
        }
    }
}
