import FoundationEssentials
import Logging
import TwoStepCore
import TwoStepStore
import TwoStepVarlink
#if canImport(Glibc)
import Glibc
#endif

/// `io.twostep.Login` (SPEC §9): the PAM module's access to the fleet
/// store, on DIR/io.twostep.Login (mode 0600, peer uid 0 only). Three
/// methods, each one statement on the database: the module runs the login
/// flow itself (TwoStepCore's Verifier, as with a file) and stores its
/// result with a compare-and-set (`VersionedRecordStore`), so a code is
/// accepted only once the database has committed its use.
///
/// Errors are `Unavailable(reason)`; the reason names the database problem,
/// never a record's content.
struct LoginInterface: VarlinkInterface {
    let name = LoginProtocol.interface
    let backend: any RecordBackend
    /// Where sends are counted (the database's `twostep_sends`, SPEC §5).
    let counter: any SendCounter
    let logger = Logger(label: "twostepd.login")

    var description: String { LoginProtocol.idl }

    private struct FetchRequest: Decodable { var user: String }
    private struct FetchReply: Encodable {
        var record: String?
        var version: Int64
        var offline: Bool
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(record, forKey: .record)  // null, not absent
            try c.encode(version, forKey: .version)
            try c.encode(offline, forKey: .offline)
        }
        enum CodingKeys: String, CodingKey { case record, version, offline }
    }
    private struct StoreRequest: Decodable { var user: String; var record: String; var version: Int64? }
    private struct StoreReply: Encodable {
        struct Current: Encodable {
            var record: String?
            var version: Int64
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(record, forKey: .record)  // null, not absent: no record
                try c.encode(version, forKey: .version)
            }
            enum CodingKeys: String, CodingKey { case record, version }
        }
        var stored: Bool
        var current: Current?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stored, forKey: .stored)
            try c.encode(current, forKey: .current)  // null, not absent
        }
        enum CodingKeys: String, CodingKey { case stored, current }
    }
    private struct DeleteRequest: Decodable { var user: String; var version: Int64 }
    private struct DeleteReply: Encodable { var deleted: Bool }
    private struct AdmitSendRequest: Decodable { var user: String; var number: String; var limit: Int; var window: Int64 }
    private struct AdmitSendReply: Encodable {
        var admitted: Bool
        var until: Int64?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(admitted, forKey: .admitted)
            try c.encode(until, forKey: .until)  // null, not absent
        }
        enum CodingKeys: String, CodingKey { case admitted, until }
    }

    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data {
        guard peer.uid == 0 else { throw .permissionDenied }
        guard let known = LoginProtocol.Method(rawValue: method) else { throw .methodNotFound(name + "." + method) }
        do {
            return try run(known, parameters)
        } catch let error as VarlinkError {
            throw error
        } catch {
            logger.error("\(method): \(error)")
            throw VarlinkError(name: LoginProtocol.unavailable, parameters: ["reason": .string("\(error)")])
        }
    }

    /// Decodes the request (only the parameters the IDL declares), runs it
    /// and encodes the reply.
    private func run(_ method: LoginProtocol.Method, _ parameters: Data) throws -> Data {
        func request<T: Decodable>(_ type: T.Type) throws(VarlinkError) -> T {
            try VarlinkCoding.decode(type, from: parameters, fields: Self.parameterNames[method] ?? [])
        }
        switch method {
        case .fetch:
            let r = try request(FetchRequest.self)
            try check(r.user)
            guard let stored = try backend.fetch(user: r.user) else {
                return try VarlinkCoding.encode(FetchReply(record: nil, version: 0, offline: false))
            }
            let text = stored.text.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            return try VarlinkCoding.encode(FetchReply(record: text, version: stored.version, offline: stored.offline))
        case .store:
            let r = try request(StoreRequest.self)
            try check(r.user)
            var bytes = Array(r.record.utf8)
            defer { cleanse(&bytes) }
            switch try backend.storeOrRead(user: r.user, text: bytes, replacing: r.version) {
            case .stored:
                return try VarlinkCoding.encode(StoreReply(stored: true))
            case .notStored:
                return try VarlinkCoding.encode(StoreReply(stored: false))
            case .superseded(let now):
                let text = now.map { $0.text.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
                return try VarlinkCoding.encode(StoreReply(stored: false, current: .init(record: text, version: now?.version ?? 0)))
            }
        case .delete:
            let r = try request(DeleteRequest.self)
            try check(r.user)
            return try VarlinkCoding.encode(DeleteReply(deleted: try backend.delete(user: r.user, version: r.version)))
        case .admitSend:
            let r = try request(AdmitSendRequest.self)
            try check(r.user)
            guard let number = try? PhoneNumber(parsing: r.number), number.e164 == r.number else {
                throw VarlinkError.invalidParameter("number")
            }
            guard SendPolicy.limitRange.contains(r.limit) else { throw VarlinkError.invalidParameter("limit") }
            guard SendPolicy.windowRange.contains(Int(clamping: r.window)) else { throw VarlinkError.invalidParameter("window") }
            let until = try counter.admit(account: r.user, number: number, policy: SendPolicy(limit: r.limit, window: r.window), at: Int64(time(nil)))
            return try VarlinkCoding.encode(AdmitSendReply(admitted: until == nil, until: until))
        }
    }

    /// Each method's parameter names, as `LoginProtocol.idl` declares them:
    /// a call with any other is refused (InvalidParameter naming it).
    static let parameterNames: [LoginProtocol.Method: Set<String>] = VarlinkIDL.parameterNames(of: LoginProtocol.definition)

    private func check(_ user: String) throws(VarlinkError) {
        guard ManageInterface.isPlausibleName(user) else { throw .invalidParameter("user") }
    }
}
