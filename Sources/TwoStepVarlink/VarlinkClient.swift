import FoundationEssentials


/// A blocking Varlink client over a Unix socket, for the CLI.
///
/// Each call opens its own connection, sends one message and reads one
/// reply, within `timeout` seconds in all (connecting included); then the
/// connection is closed. Plain POSIX sockets: no Foundation networking, no
/// threads, no signals (writes use MSG_NOSIGNAL).
public struct VarlinkClient: Sendable {
    /// 1 MiB: the longest reply accepted.
    public static let replyLimit = 1 << 20

    public let socketPath: String
    public let timeout: Double

    public init(socketPath: String, timeout: Double = 30) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Calls `method` (fully qualified, e.g. `io.twostep.Manage.Status`).
    ///
    /// - Parameter parameters: a JSON object text.
    /// - Returns: the JSON object text of the reply's parameters (`{}` when it had none).
    /// - Throws: `.reply` for an error reply; the other cases when the
    ///   service could not be reached or did not answer properly.
    public func call(_ method: String, parameters: Data = Data("{}".utf8)) throws(VarlinkClientError) -> Data {
        guard parameters.first(where: { !Self.isJSONSpace($0) }) == UInt8(ascii: "{") else {
            throw .invalidRequest(path: socketPath, reason: "the parameters are not a JSON object")
        }
        let message = VarlinkCall(method: method, parameters: parameters).encoded()
        let replyBytes = try exchange(message)
        let reply: VarlinkReply
        do {
            reply = try VarlinkReply.parse(replyBytes)
        } catch {
            throw .invalidReply(path: socketPath, reason: error.description)
        }
        switch reply.result {
        case .success(let parameters): return parameters
        case .failure(let error): throw .reply(error)
        }
    }

    /// Calls `method` with `parameters` encoded as JSON and decodes the
    /// reply's parameters as `type`.
    public func call<Parameters: Encodable, Reply: Decodable>(
        _ method: String, _ parameters: Parameters, returning type: Reply.Type
    ) throws(VarlinkClientError) -> Reply {
        let data: Data
        do {
            data = try VarlinkCoding.encode(parameters)
        } catch {
            throw .invalidRequest(path: socketPath, reason: "the parameters do not encode as a JSON object")
        }
        let reply = try call(method, parameters: data)
        do {
            return try JSONDecoder().decode(Reply.self, from: reply)
        } catch let error as DecodingError {
            throw .invalidReply(path: socketPath, reason: "unexpected parameters (\(VarlinkCoding.fieldName(of: error)))")
        } catch {
            throw .invalidReply(path: socketPath, reason: "unexpected parameters")
        }
    }

    /// Connects, sends `message`, and returns the first reply message (without its NUL).
    private func exchange(_ message: [UInt8]) throws(VarlinkClientError) -> [UInt8] {
        try VarlinkSocket(path: socketPath, timeout: timeout, replyLimit: Self.replyLimit).exchange(message)
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
