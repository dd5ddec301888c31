import TwoStepCore
import TwoStepStore

/// `RecordBackend` on twostepd's `io.twostep.Login` socket (root only):
/// what the PAM module and `twostep migrate` use in fleet mode
/// (`store=twostepd`). Each operation is one call, answered within
/// `timeout` seconds or `unavailable`: a login never hangs on a database
/// that does not answer. The calls of one backend share a connection (a
/// login's Fetch and Store), which saves a connect and twostepd's
/// admission checks on every call after the first. It is also the fleet's
/// `SendCounter`: twostepd counts sends in its database (`AdmitSend`).
public final class DaemonRecordBackend: RecordBackend, SendCounter, @unchecked Sendable {
    public let socket: VarlinkSocket
    /// Used by one thread at a time: a PAM handle's login, or `twostep migrate`.
    private let connection: VarlinkSocket.Connection

    /// - Parameters:
    ///   - socketDirectory: `socket_dir=` (default `/run/twostep`).
    ///   - timeout: seconds for one call; twostepd answers within
    ///     `database_timeout`, so this is that plus a margin.
    public init(socketDirectory: String, timeout: Double) {
        // Only twostepd, root, may answer: a listener of another uid on the
        // socket's path (a socket_dir= others can write) is refused.
        socket = VarlinkSocket(path: socketDirectory + "/" + LoginProtocol.socketName, timeout: timeout,
                               replyLimit: 256 * 1024, peerUID: 0)
        connection = VarlinkSocket.Connection(socket)
    }

    public var name: String { "twostepd" }

    public func fetch(user: String) throws(StoreError) -> StoredRecord? {
        let reply = try call(.fetch, user: user, ["user": .string(user)])
        guard let version = reply["version"]?.intValue, let offline = reply["offline"]?.boolValue else {
            throw invalid(user, "\(LoginProtocol.Method.fetch): no version or offline")
        }
        switch reply["record"] {
        case .string(let text)?: return StoredRecord(text: SecretBytes(Array(text.utf8)), version: version, offline: offline)
        case .null?, nil: return nil
        default: throw invalid(user, "\(LoginProtocol.Method.fetch): record is not a string")
        }
    }

    public func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        if case .stored = try storeOrRead(user: user, text: text, replacing: version) { return true }
        return false
    }

    /// `Store`; when twostepd lost the race and read the record in the
    /// same transaction, its reply's `current` is that record (SPEC §13),
    /// and the login decides again on it without another `Fetch`.
    public func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome {
        let record = String(decoding: text, as: UTF8.self)
        let reply = try call(.store, user: user, ["user": .string(user), "record": .string(record),
                                                   "version": version.map { .int($0) } ?? .null])
        guard let stored = reply["stored"]?.boolValue else { throw invalid(user, "\(LoginProtocol.Method.store): no stored") }
        if stored { return .stored }
        switch reply["current"] {
        case .null?, nil:
            return .notStored
        case .object(let current)?:
            guard let now = current["version"]?.intValue else { throw invalid(user, "\(LoginProtocol.Method.store): current without a version") }
            switch current["record"] {
            case .string(let text)?: return .superseded(StoredRecord(text: SecretBytes(Array(text.utf8)), version: now))
            case .null?, nil: return .superseded(nil)
            default: throw invalid(user, "\(LoginProtocol.Method.store): current record is not a string")
            }
        default:
            throw invalid(user, "\(LoginProtocol.Method.store): current is not an object")
        }
    }

    public func delete(user: String, version: Int64) throws(StoreError) -> Bool {
        let reply = try call(.delete, user: user, ["user": .string(user), "version": .int(version)])
        guard let deleted = reply["deleted"]?.boolValue else { throw invalid(user, "\(LoginProtocol.Method.delete): no deleted") }
        return deleted
    }

    public func admit(account: String, number: PhoneNumber, policy: SendPolicy, at now: Int64) throws(StoreError) -> Int64? {
        let reply = try call(.admitSend, user: account, [
            "user": .string(account), "number": .string(number.e164),
            "limit": .int(Int64(policy.limit)), "window": .int(policy.window),
        ])
        guard let admitted = reply["admitted"]?.boolValue else { throw invalid(account, "\(LoginProtocol.Method.admitSend): no admitted") }
        if admitted { return nil }
        guard let until = reply["until"]?.intValue else { throw invalid(account, "\(LoginProtocol.Method.admitSend): no until") }
        return until
    }

    private func invalid(_ user: String, _ reason: String) -> StoreError {
        .unavailable(path: "\(name): \(user)", reason: "invalid reply from \(socket.path) (\(reason))")
    }

    /// One call; an error reply or a failure to talk to twostepd is `unavailable`.
    private func call(_ method: LoginProtocol.Method, user: String, _ parameters: [String: VarlinkValue]) throws(StoreError) -> [String: VarlinkValue] {
        var message = JSONText.serialize(["method": .string(method.qualifiedName), "parameters": .object(parameters)])
        message.append(0)
        defer { cleanse(&message) }
        var reply: [UInt8]
        do {
            reply = try connection.exchange(message)
        } catch {
            throw .unavailable(path: "\(name): \(user)", reason: error.description)
        }
        defer { cleanse(&reply) }
        let value: VarlinkValue
        do { value = try JSONText.parse(reply) } catch { throw invalid(user, error.description) }
        if let error = value["error"]?.stringValue {
            let reason = value["parameters"]?["reason"]?.stringValue ?? ""
            throw .unavailable(path: "\(name): \(user)", reason: reason.isEmpty ? error : "\(error): \(reason)")
        }
        guard let parameters = value["parameters"]?.objectValue else { throw invalid(user, "no parameters") }
        return parameters
    }
}
