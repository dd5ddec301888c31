import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import TwoStepDaemon
import TwoStepVarlink

/// An interface for the handler's tests: Echo returns its parameters.
struct EchoInterface: VarlinkInterface {
    let name = "io.example.Echo"
    let description = """
        interface io.example.Echo
        method Echo(text: string) -> (text: string)
        """

    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data { parameters }
}

/// One connection's handler (VarlinkConnectionHandler) on an EmbeddedChannel:
/// framing, limits, org.varlink.service and errors answered on the event
/// loop, closing. Interface calls, which go to a thread pool, are in
/// `PooledCallTests` (NIOAsyncTestingChannel: the pool completes from its own thread).
@Suite("The connection handler")
struct ConnectionHandlerTests {
    static let info = VarlinkService.Info(vendor: "twostep", product: "twostepd", version: "1.0", url: "man:twostepd(8)")
    static let peer = PeerCredentials(uid: 1000, gid: 1000, pid: 42)

    /// A connected channel with the handler; the pool is never started: no
    /// test here makes an interface call.
    static func channel(callLimit: VarlinkConnectionHandler.CallLimit? = nil) throws -> EmbeddedChannel {
        let logger = Logger(label: "test")
        let handler = VarlinkConnectionHandler(
            service: VarlinkService(info: info, interface: EchoInterface()), peer: peer,
            pool: NIOThreadPool(numberOfThreads: 1), calls: ConnectionTracker(logger: logger),
            callLimit: callLimit, logger: logger)
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/tmp/test.sock")).wait()
        return channel
    }

    static func send(_ channel: EmbeddedChannel, _ bytes: some Sequence<UInt8>) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: Array(bytes)))
    }

    /// Every reply written so far, parsed, in order.
    static func replies(_ channel: EmbeddedChannel) throws -> [VarlinkReply] {
        var framer = VarlinkFramer(limit: 1 << 20)
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { framer.append(buffer.readableBytesView) }
        var out: [VarlinkReply] = []
        while let message = try framer.nextMessage() { out.append(try VarlinkReply.parse(message)) }
        #expect(framer.bufferedCount == 0, "a reply without its NUL")
        return out
    }

    static func parameters(_ reply: VarlinkReply) throws -> VarlinkValue? {
        guard case .success(let data) = reply.result else { return nil }
        return try JSONDecoder().decode(VarlinkValue.self, from: data)
    }

    @Test("a message cut across reads is answered once, whole; replies come in order")
    func framing() throws {
        let channel = try Self.channel()
        let message = Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0]
        for byte in message.dropLast() {
            try Self.send(channel, [byte])
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        }
        try Self.send(channel, [0] + Array(#"{"method":"io.example.Echo.Nope"}"#.utf8) + [0])
        let replies = try Self.replies(channel)
        #expect(replies.count == 2)
        #expect(try replies.first.flatMap(Self.parameters)?["interfaces"] == ["org.varlink.service", "io.example.Echo"])
        #expect(replies.last?.result == .failure(.methodNotFound("io.example.Echo.Nope")))
        #expect(channel.isActive)
    }

    @Test("standard errors keep the connection open; a oneway call gets no reply")
    func standardErrors() throws {
        let channel = try Self.channel()
        try Self.send(channel, Array(#"{"method":"io.other.X"}"#.utf8) + [0])
        try Self.send(channel, Array(#"{"method":"io.other.X","oneway":true}"#.utf8) + [0])
        try Self.send(channel, Array(#"{"method":"io.example.Echo.Echo","more":true}"#.utf8) + [0])
        let replies = try Self.replies(channel)
        #expect(replies.map(\.result) == [.failure(.interfaceNotFound("io.other")), .failure(.methodNotImplemented("io.example.Echo.Echo"))])
        #expect(channel.isActive)
    }

    @Test("a message over 64 KiB gets InvalidParameter(message), then the connection is closed")
    func tooLarge() throws {
        let channel = try Self.channel()
        var big = Array(#"{"method":"io.example.Echo.Echo","parameters":{"text":""#.utf8)
        big += [UInt8](repeating: UInt8(ascii: "x"), count: DaemonLimits.messageBytes)
        try Self.send(channel, big)
        #expect(try Self.replies(channel).map(\.result) == [.failure(.invalidParameter("message"))])
        #expect(!channel.isActive)
    }

    @Test("a message of exactly 64 KiB is read", arguments: [DaemonLimits.messageBytes])
    func atTheLimit(_ size: Int) throws {
        let channel = try Self.channel()
        let head = Array(#"{"method":"io.other.X","x":""#.utf8)
        let message = head + [UInt8](repeating: UInt8(ascii: "y"), count: size - head.count - 2) + Array(#""}"#.utf8)
        #expect(message.count == size)
        try Self.send(channel, message + [0])
        #expect(try Self.replies(channel).map(\.result) == [.failure(.interfaceNotFound("io.other"))])
        #expect(channel.isActive)
    }

    @Test("a message that is not a Varlink call: InvalidParameter naming the part, then closed", arguments: [
        (#"{"method":"#, "message"), (#"["a"]"#, "message"), (#"{"method":5}"#, "method"),
        (#"{"method":"a.B","parameters":"x"}"#, "parameters"), (#"{"method":"a.B","oneway":1}"#, "oneway"),
    ])
    func malformed(_ text: String, _ part: String) throws {
        let channel = try Self.channel()
        try Self.send(channel, Array(text.utf8) + [0] + Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0])
        #expect(try Self.replies(channel).map(\.result) == [.failure(.invalidParameter(part))])
        #expect(!channel.isActive)
    }

    @Test("no complete message for 10 s: closed; a message in time resets the clock")
    func idle() throws {
        let channel = try Self.channel()
        (channel.eventLoop as? EmbeddedEventLoop)?.advanceTime(by: DaemonLimits.idleTimeout - .seconds(1))
        try Self.send(channel, Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0])
        (channel.eventLoop as? EmbeddedEventLoop)?.advanceTime(by: DaemonLimits.idleTimeout - .seconds(1))
        #expect(channel.isActive)
        try Self.send(channel, Array(#"{"method":"#.utf8))  // never completed
        (channel.eventLoop as? EmbeddedEventLoop)?.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test("open for 60 s: closed, however busy it keeps")
    func lifetime() throws {
        let channel = try Self.channel()
        for _ in 0..<12 {
            (channel.eventLoop as? EmbeddedEventLoop)?.advanceTime(by: .seconds(5))
            if channel.isActive { try Self.send(channel, Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0]) }
        }
        #expect(!channel.isActive)
    }

    @Test("input closed after a message: answered, then closed")
    func halfClose() throws {
        let channel = try Self.channel()
        try Self.send(channel, Array(#"{"method":"org.varlink.service.GetInfo"}"#.utf8) + [0])
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try Self.replies(channel).count == 1)
        #expect(!channel.isActive)
    }
}
