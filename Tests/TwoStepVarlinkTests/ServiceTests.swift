import Foundation
import Testing
@testable import TwoStepVarlink

/// A small interface: Echo returns its parameters, Fail throws, Hidden is
/// not declared in the IDL (the service must not reach it).
struct EchoInterface: VarlinkInterface {
    let name = "io.example.Echo"
    let description = """
        # An interface for tests.
        interface io.example.Echo

        # Returns its parameters.
        method Echo(text: string) -> (text: string)
          method Fail() -> ()
        # method Commented() -> ()
        error Failed (why: string)
        """

    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data {
        switch method {
        case "Echo": return parameters
        case "Fail": throw VarlinkError(name: "io.example.Echo.Failed", parameters: ["why": "asked", "uid": VarlinkValue(peer.uid)])
        default: return Data(#"{"reached":true}"#.utf8)
        }
    }
}

@Suite("The service: org.varlink.service and dispatch")
struct ServiceTests {
    let service = VarlinkService(
        info: .init(vendor: "twostep", product: "twostepd", version: "1.0", url: "man:twostepd(8)"),
        interface: EchoInterface())
    let peer = PeerCredentials(uid: 1000, gid: 1000, pid: 42)

    private func message(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The reply a message gets at once, parsed.
    private func reply(_ text: String) throws -> VarlinkReply? {
        guard case .reply(let bytes?, _) = service.dispatch(message(text)) else { return nil }
        #expect(bytes.last == 0)
        return try VarlinkReply.parse(bytes.dropLast())
    }

    private func parameters(_ reply: VarlinkReply?) throws -> VarlinkValue? {
        guard case .success(let data)? = reply?.result else { return nil }
        return try JSONDecoder().decode(VarlinkValue.self, from: data)
    }

    @Test("GetInfo names the product and both interfaces")
    func getInfo() throws {
        let info = try parameters(reply(#"{"method":"org.varlink.service.GetInfo"}"#))
        #expect(info == ["vendor": "twostep", "product": "twostepd", "version": "1.0", "url": "man:twostepd(8)",
                         "interfaces": ["org.varlink.service", "io.example.Echo"]])
        #expect(try reply(#"{"method":"org.varlink.service.GetInfo","parameters":{"x":1}}"#)?.result
            == .failure(.invalidParameter("x")))
    }

    @Test("GetInterfaceDescription: both interfaces; another is InterfaceNotFound")
    func describe() throws {
        let own = try parameters(reply(#"{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.example.Echo"}}"#))
        #expect(own?["description"]?.stringValue == EchoInterface().description)
        let standard = try parameters(reply(#"{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"org.varlink.service"}}"#))
        #expect(standard?["description"]?.stringValue?.contains("interface org.varlink.service\n") == true)
        #expect(try reply(#"{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.other"}}"#)?.result
            == .failure(.interfaceNotFound("io.other")))
        #expect(try reply(#"{"method":"org.varlink.service.GetInterfaceDescription"}"#)?.result
            == .failure(.invalidParameter("interface")))
    }

    @Test("unknown interfaces and methods, and more/upgrade, get the standard errors")
    func standardErrors() throws {
        #expect(try reply(#"{"method":"io.other.Echo"}"#)?.result == .failure(.interfaceNotFound("io.other")))
        #expect(try reply(#"{"method":"Echo"}"#)?.result == .failure(.interfaceNotFound("")))
        #expect(try reply(#"{"method":"io.example.Echo.Hidden"}"#)?.result == .failure(.methodNotFound("io.example.Echo.Hidden")))
        #expect(try reply(#"{"method":"io.example.Echo.Commented"}"#)?.result == .failure(.methodNotFound("io.example.Echo.Commented")))
        #expect(try reply(#"{"method":"org.varlink.service.Nope"}"#)?.result == .failure(.methodNotFound("org.varlink.service.Nope")))
        #expect(try reply(#"{"method":"io.example.Echo.Echo","more":true}"#)?.result
            == .failure(.methodNotImplemented("io.example.Echo.Echo")))
        #expect(try reply(#"{"method":"io.example.Echo.Echo","upgrade":true}"#)?.result
            == .failure(.methodNotImplemented("io.example.Echo.Echo")))
    }

    @Test("a declared method becomes a call; its result becomes the reply")
    func call() throws {
        guard case .call(let call) = service.dispatch(message(#"{"method":"io.example.Echo.Echo","parameters":{"text":"hi"}}"#)) else {
            Issue.record("not a call")
            return
        }
        let result = service.run(call, peer: peer)
        #expect(result == .success(Data(#"{"text":"hi"}"#.utf8)))
        #expect(service.finish(call, result).map { String(decoding: $0, as: UTF8.self) } == "{\"parameters\":{\"text\":\"hi\"}}\0")

        guard case .call(let failing) = service.dispatch(message(#"{"method":"io.example.Echo.Fail"}"#)) else {
            Issue.record("not a call")
            return
        }
        #expect(service.run(failing, peer: peer) == .failure(VarlinkError(name: "io.example.Echo.Failed", parameters: ["why": "asked", "uid": 1000])))
    }

    @Test("oneway calls get no reply, not even an error")
    func oneway() {
        guard case .reply(nil, let error) = service.dispatch(message(#"{"method":"io.nope.X","oneway":true}"#)) else {
            Issue.record("a oneway call was answered")
            return
        }
        #expect(error == "org.varlink.service.InterfaceNotFound")
        guard case .call(let call) = service.dispatch(message(#"{"method":"io.example.Echo.Echo","oneway":true}"#)) else {
            Issue.record("not a call")
            return
        }
        #expect(service.finish(call, .success(Data("{}".utf8))) == nil)
    }

    @Test("a message that is not a call is a protocol error with InvalidParameter")
    func protocolError() throws {
        guard case .protocolError(let bytes, _) = service.dispatch(message("{nope")) else {
            Issue.record("not a protocol error")
            return
        }
        #expect(try VarlinkReply.parse(bytes.dropLast()).result == .failure(.invalidParameter("message")))
    }

    @Test("a socket with no interface serves only org.varlink.service")
    func noInterface() throws {
        let bare = VarlinkService(info: service.info, interface: nil)
        #expect(bare.interfaces == ["org.varlink.service"])
        guard case .reply(let bytes?, _) = bare.dispatch(message(#"{"method":"io.example.Echo.Echo"}"#)) else {
            Issue.record("no reply")
            return
        }
        #expect(try VarlinkReply.parse(bytes.dropLast()).result == .failure(.interfaceNotFound("io.example.Echo")))
    }

    @Test("the IDL reader finds the interface name and declared methods only")
    func idl() {
        #expect(VarlinkIDL.interfaceName(in: EchoInterface().description) == "io.example.Echo")
        #expect(VarlinkIDL.methodNames(in: EchoInterface().description) == ["Echo", "Fail"])
        #expect(VarlinkIDL.methodNames(in: VarlinkService.serviceDescription) == ["GetInfo", "GetInterfaceDescription"])
    }
}
