import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import TwoStepDaemon
import TwoStepVarlink

/// Interface calls through the handler: run on the thread pool, answered in
/// order; the per-uid limit answers its busy error at once.
@Suite("Calls on the pool", .serialized)
struct PooledCallTests {
    static func channel(pool: NIOThreadPool, tracker: ConnectionTracker, callLimit: VarlinkConnectionHandler.CallLimit?) async throws -> NIOAsyncTestingChannel {
        let logger = Logger(label: "test")
        let service = VarlinkService(info: ConnectionHandlerTests.info, interface: EchoInterface())
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(VarlinkConnectionHandler(
                service: service, peer: ConnectionHandlerTests.peer, pool: pool, calls: tracker,
                callLimit: callLimit, logger: logger))
        }
        try await channel.connect(to: SocketAddress(unixDomainSocketPath: "/tmp/test.sock"))
        return channel
    }

    /// The next `count` replies, waiting for each.
    static func replies(_ channel: NIOAsyncTestingChannel, _ count: Int) async throws -> [VarlinkReply] {
        var framer = VarlinkFramer(limit: 1 << 20)
        var out: [VarlinkReply] = []
        while out.count < count {
            let buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            framer.append(buffer.readableBytesView)
            while let message = try framer.nextMessage() { out.append(try VarlinkReply.parse(message)) }
        }
        return out
    }

    @Test("pipelined calls run one at a time on the pool and are answered in order")
    func inOrder() async throws {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let channel = try await Self.channel(pool: pool, tracker: ConnectionTracker(logger: Logger(label: "test")), callLimit: nil)
        var batch: [UInt8] = []
        for i in 0..<5 {
            batch += Array(#"{"method":"io.example.Echo.Echo","parameters":{"text":"\#(i)"}}"#.utf8) + [0]
        }
        batch += Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0]
        try await channel.writeInbound(channel.allocator.buffer(bytes: batch))
        let replies = try await Self.replies(channel, 6)
        for i in 0..<5 {
            #expect(replies[i].result == .success(Data(#"{"text":"\#(i)"}"#.utf8)))
        }
        if case .success = replies[5].result {} else { Issue.record("GetInfo failed") }
        _ = try? await channel.finish(acceptAlreadyClosed: true)
        try await pool.shutdownGracefully()
    }

    @Test("a uid at its limit of calls is answered the busy error at once")
    func busy() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let tracker = ConnectionTracker(logger: Logger(label: "test"))
        #expect(tracker.beginCall(uid: ConnectionHandlerTests.peer.uid, limit: 1))  // another connection's call
        let channel = try await Self.channel(pool: pool, tracker: tracker, callLimit: .init(perUser: 1, busy: "io.example.Echo.Busy"))
        try await channel.writeInbound(channel.allocator.buffer(bytes: Array(#"{"method":"io.example.Echo.Echo","parameters":{"text":"x"}}"#.utf8) + [0]))
        let reply = try await Self.replies(channel, 1)
        guard case .failure(let error) = reply.first?.result else {
            Issue.record("not an error")
            return
        }
        #expect(error.name == "io.example.Echo.Busy")
        tracker.endCall(uid: ConnectionHandlerTests.peer.uid)
        try await channel.writeInbound(channel.allocator.buffer(bytes: Array(#"{"method":"io.example.Echo.Echo","parameters":{"text":"y"}}"#.utf8) + [0]))
        #expect(try await Self.replies(channel, 1).first?.result == .success(Data(#"{"text":"y"}"#.utf8)))
        _ = try? await channel.finish(acceptAlreadyClosed: true)
        try await pool.shutdownGracefully()
    }
}
