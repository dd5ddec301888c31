import FoundationEssentials

/// What a Varlink socket answers: `org.varlink.service` and one interface.
///
/// Pure: it turns a message into a reply or into a call to run, and a
/// call's result into a reply; reading, writing, threads and time limits
/// are the server's.
public struct VarlinkService: Sendable {
    public struct Info: Sendable, Hashable {
        public var vendor: String
        public var product: String
        public var version: String
        public var url: String

        public init(vendor: String, product: String, version: String, url: String) {
            self.vendor = vendor
            self.product = product
            self.version = version
            self.url = url
        }
    }

    /// What to do with one message.
    public enum Dispatch: Sendable {
        /// Send `reply` (nil: a oneway call, send nothing). `error` is the
        /// error's name when the reply is one, for the log.
        case reply([UInt8]?, error: String?)
        /// Run the interface method (it may block: off the event loop), then
        /// send `finish(call, result)`.
        case call(VarlinkCall)
        /// The message is not a Varlink call: send `reply` and close the connection.
        case protocolError(reply: [UInt8], reason: String)
    }

    public static let serviceInterface = "org.varlink.service"

    public let info: Info
    /// The interface served besides org.varlink.service; nil serves none
    /// (every other interface is InterfaceNotFound).
    public let interface: (any VarlinkInterface)?
    private let methods: Set<String>

    public init(info: Info, interface: (any VarlinkInterface)?) {
        self.info = info
        self.interface = interface
        self.methods = interface?.declaredMethods ?? []
    }

    /// Whether the interface holds state an exit would lose
    /// (`VarlinkInterface.holdsState`).
    public var holdsState: Bool { interface?.holdsState ?? false }

    /// The interfaces listed by GetInfo.
    public var interfaces: [String] {
        [Self.serviceInterface] + (interface.map { [$0.name] } ?? [])
    }

    public func dispatch<Bytes: Collection<UInt8>>(_ message: Bytes) -> Dispatch {
        let call: VarlinkCall
        do {
            call = try VarlinkCall.parse(message)
        } catch {
            switch error {
            case .malformed(let part):
                return .protocolError(reply: VarlinkReply.encode(error: .invalidParameter(part)), reason: error.description)
            }
        }
        if call.more || call.upgrade {
            return answer(call, .failure(.methodNotImplemented(call.method)))
        }
        if call.interface == Self.serviceInterface {
            return answer(call, serviceCall(call))
        }
        guard let interface, call.interface == interface.name else {
            return answer(call, .failure(.interfaceNotFound(call.interface)))
        }
        guard methods.contains(call.shortMethod) else {
            return answer(call, .failure(.methodNotFound(call.method)))
        }
        return .call(call)
    }

    /// Runs an interface call returned by dispatch; may block.
    public func run(_ call: VarlinkCall, peer: PeerCredentials) -> Result<Data, VarlinkError> {
        guard let interface else { return .failure(.interfaceNotFound(call.interface)) }
        do throws(VarlinkError) {
            return .success(try interface.call(method: call.shortMethod, parameters: call.parameters, peer: peer))
        } catch {
            return .failure(error)
        }
    }

    /// The reply to `call` with `result`; nil for a oneway call.
    public func finish(_ call: VarlinkCall, _ result: Result<Data, VarlinkError>) -> [UInt8]? {
        guard !call.oneway else { return nil }
        switch result {
        case .success(let parameters): return VarlinkReply.encode(parameters: parameters)
        case .failure(let error): return VarlinkReply.encode(error: error)
        }
    }

    private func answer(_ call: VarlinkCall, _ result: Result<Data, VarlinkError>) -> Dispatch {
        var errorName: String? = nil
        if case .failure(let error) = result { errorName = error.name }
        return .reply(finish(call, result), error: errorName)
    }

    private struct GetInfoReply: Encodable {
        var vendor, product, version, url: String
        var interfaces: [String]
    }

    private struct GetInterfaceDescriptionParameters: Decodable {
        var interface: String
    }

    private func serviceCall(_ call: VarlinkCall) -> Result<Data, VarlinkError> {
        do throws(VarlinkError) {
            switch call.shortMethod {
            case "GetInfo":
                _ = try VarlinkCoding.decode(VarlinkValue.self, from: call.parameters, fields: [])
                return .success(try VarlinkCoding.encode(GetInfoReply(
                    vendor: info.vendor, product: info.product, version: info.version, url: info.url,
                    interfaces: interfaces)))
            case "GetInterfaceDescription":
                let asked = try VarlinkCoding.decode(
                    GetInterfaceDescriptionParameters.self, from: call.parameters, fields: ["interface"]).interface
                let text: String
                if asked == Self.serviceInterface {
                    text = Self.serviceDescription
                } else if let interface, asked == interface.name {
                    text = interface.description
                } else {
                    throw VarlinkError.interfaceNotFound(asked)
                }
                return .success(try VarlinkCoding.encode(["description": text]))
            default:
                throw VarlinkError.methodNotFound(call.method)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The IDL of org.varlink.service (varlink.org).
    public static let serviceDescription = """
        # The Varlink Service Interface is provided by every varlink service. It
        # describes the service and the interfaces it implements.
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()

        """
}
