import Foundation
import Testing
@testable import TwoStepVarlink

#if canImport(Glibc)
import Glibc
#endif

/// A one-connection Unix socket server on a thread: accepts, runs `serve`
/// with the connection, closes it.
final class TestServer: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(listen shouldListen: Bool = true, serve: @escaping @Sendable (Int32) -> Void = { _ in }) {
        let path = NSTemporaryDirectory() + "varlink-test-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        self.path = path
        self.fd = fd
        guard shouldListen else { return }
        listen(fd, 4)
        Thread {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            serve(connection)
            close(connection)
        }.start()
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Reads one NUL-terminated message.
    static func readMessage(_ fd: Int32) -> [UInt8] {
        var message: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 {
            if byte == 0 { break }
            message.append(byte)
        }
        return message
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

@Suite("The blocking client", .serialized)
struct ClientTests {
    @Test("a call is sent as one message; the reply's parameters come back")
    func reply() throws {
        let server = TestServer { fd in
            let call = try? VarlinkCall.parse(TestServer.readMessage(fd))
            let echo = call.map { Data(#"{"method":"\#($0.method)","got":\#(String(decoding: $0.parameters, as: UTF8.self))}"#.utf8) }
            TestServer.write(fd, VarlinkReply.encode(parameters: echo ?? Data()))
        }
        let client = VarlinkClient(socketPath: server.path, timeout: 5)
        let data = try client.call("io.example.Echo.Echo", parameters: Data(#"{"text":"hi"}"#.utf8))
        #expect(String(decoding: data, as: UTF8.self) == #"{"got":{"text":"hi"},"method":"io.example.Echo.Echo"}"#)
    }

    @Test("typed calls encode and decode")
    func typed() throws {
        struct Out: Decodable, Equatable { var text: String }
        let server = TestServer { fd in
            let call = try? VarlinkCall.parse(TestServer.readMessage(fd))
            TestServer.write(fd, VarlinkReply.encode(parameters: call?.parameters ?? Data()))
        }
        let out = try VarlinkClient(socketPath: server.path, timeout: 5).call("a.B", ["text": "x"], returning: Out.self)
        #expect(out == Out(text: "x"))
    }

    @Test("an error reply is .reply with the error")
    func errorReply() {
        let error = VarlinkError(name: "io.twostep.Manage.CodeRefused", parameters: ["failures": 2])
        let server = TestServer { fd in
            _ = TestServer.readMessage(fd)
            TestServer.write(fd, VarlinkReply.encode(error: error))
        }
        #expect(throws: VarlinkClientError.reply(error)) {
            try VarlinkClient(socketPath: server.path, timeout: 5).call("a.B")
        }
    }

    @Test("no socket, and a socket nobody listens on, are told apart and name the path")
    func unavailable() {
        let missing = "/nonexistent-dir/io.twostep.Manage"
        let noSocket = #expect(throws: VarlinkClientError.noSocket(path: missing)) {
            try VarlinkClient(socketPath: missing, timeout: 1).call("a.B")
        }
        #expect(noSocket?.isServiceUnavailable == true)
        #expect(noSocket?.description.contains(missing) == true)

        let dead = TestServer(listen: false)
        let refused = #expect(throws: VarlinkClientError.connectionRefused(path: dead.path)) {
            try VarlinkClient(socketPath: dead.path, timeout: 1).call("a.B")
        }
        #expect(refused?.isServiceUnavailable == true)
        #expect(refused?.description.contains(dead.path) == true)
    }

    @Test("a service that does not answer in time: timedOut")
    func timeout() {
        let server = TestServer { fd in
            _ = TestServer.readMessage(fd)
            usleep(1_500_000)
        }
        let start = Date()
        #expect(throws: VarlinkClientError.timedOut(path: server.path, seconds: 0.3)) {
            try VarlinkClient(socketPath: server.path, timeout: 0.3).call("a.B")
        }
        #expect(Date().timeIntervalSince(start) < 1.2)
    }

    @Test("closed before a complete reply: connectionClosed")
    func closed() {
        let server = TestServer { fd in
            _ = TestServer.readMessage(fd)
            TestServer.write(fd, Array(#"{"parameters":"#.utf8))
        }
        #expect(throws: VarlinkClientError.connectionClosed(path: server.path)) {
            try VarlinkClient(socketPath: server.path, timeout: 5).call("a.B")
        }
    }

    @Test("a reply over 1 MiB: replyTooLarge")
    func tooLarge() {
        let server = TestServer { fd in
            _ = TestServer.readMessage(fd)
            TestServer.write(fd, [UInt8](repeating: 0x20, count: VarlinkClient.replyLimit + 10))
        }
        #expect(throws: VarlinkClientError.replyTooLarge(path: server.path, limit: 1 << 20)) {
            try VarlinkClient(socketPath: server.path, timeout: 5).call("a.B")
        }
    }

    @Test("a reply that is not JSON: invalidReply naming the path")
    func invalid() {
        let server = TestServer { fd in
            _ = TestServer.readMessage(fd)
            TestServer.write(fd, Array("not json\0".utf8))
        }
        let error = #expect(throws: VarlinkClientError.self) {
            try VarlinkClient(socketPath: server.path, timeout: 5).call("a.B")
        }
        guard case .invalidReply(let path, _)? = error else {
            Issue.record("not invalidReply: \(String(describing: error))")
            return
        }
        #expect(path == server.path)
    }

    @Test("parameters that are not a JSON object are not sent")
    func badParameters() {
        #expect(throws: VarlinkClientError.invalidRequest(path: "/x", reason: "the parameters are not a JSON object")) {
            try VarlinkClient(socketPath: "/x", timeout: 1).call("a.B", parameters: Data("[1]".utf8))
        }
    }
}
