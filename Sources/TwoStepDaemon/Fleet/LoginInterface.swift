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

    var description: String {
        """
        # The PAM module's access to the fleet store (SPEC §9). Root only.
        interface io.twostep.Login

        # The user's record (the factor-file text of twostep-factors(5)) and
        # its version; record is null when the user has none. offline: the
        # database is unreachable and this is this host's cached copy
        # (offline=cached): only authenticator codes are accepted.
        method Fetch(user: string) -> (record: ?string, version: int, offline: bool)

        # Stores record if the user's record still has version (null: if
        # the user has none yet). stored is false when another writer got
        # there first: read again and decide again.
        method Store(user: string, record: string, version: ?int) -> (stored: bool)

        # Removes the record if it still has version.
        method Delete(user: string, version: int) -> (deleted: bool)

        # Counts one code sent for user to number (E.164) if at most limit-1
        # were sent for that account, and to that number, in the last window
        # seconds (SPEC §5): admitted, or not and the time (Unix seconds)
        # from which the next may go. The count lives in the database,
        # where no user can reset it.
        method AdmitSend(user: string, number: string, limit: int, window: int) -> (admitted: bool, until: ?int)

        # The database could not be used in time, or refused.
        error Unavailable (reason: string)

        """
    }

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
    private struct StoreReply: Encodable { var stored: Bool }
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
        do {
            switch method {
            case "Fetch":
                let r = try VarlinkCoding.decode(FetchRequest.self, from: parameters, fields: ["user"])
                try check(r.user)
                guard let stored = try backend.fetch(user: r.user) else {
                    return try VarlinkCoding.encode(FetchReply(record: nil, version: 0, offline: false))
                }
                let text = stored.text.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                return try VarlinkCoding.encode(FetchReply(record: text, version: stored.version, offline: stored.offline))
            case "Store":
                let r = try VarlinkCoding.decode(StoreRequest.self, from: parameters, fields: ["user", "record", "version"])
                try check(r.user)
                var bytes = Array(r.record.utf8)
                defer { cleanse(&bytes) }
                let stored = try backend.store(user: r.user, text: bytes, replacing: r.version)
                return try VarlinkCoding.encode(StoreReply(stored: stored))
            case "Delete":
                let r = try VarlinkCoding.decode(DeleteRequest.self, from: parameters, fields: ["user", "version"])
                try check(r.user)
                return try VarlinkCoding.encode(DeleteReply(deleted: try backend.delete(user: r.user, version: r.version)))
            case "AdmitSend":
                let r = try VarlinkCoding.decode(AdmitSendRequest.self, from: parameters, fields: ["user", "number", "limit", "window"])
                try check(r.user)
                guard let number = try? PhoneNumber(parsing: r.number), number.e164 == r.number else {
                    throw VarlinkError.invalidParameter("number")
                }
                guard SendPolicy.limitRange.contains(r.limit) else { throw VarlinkError.invalidParameter("limit") }
                guard SendPolicy.windowRange.contains(Int(clamping: r.window)) else { throw VarlinkError.invalidParameter("window") }
                let until = try counter.admit(account: r.user, number: number, policy: SendPolicy(limit: r.limit, window: r.window), at: Int64(time(nil)))
                return try VarlinkCoding.encode(AdmitSendReply(admitted: until == nil, until: until))
            default:
                throw VarlinkError.methodNotFound(name + "." + method)
            }
        } catch let error as VarlinkError {
            throw error
        } catch {
            logger.error("\(method): \(error)")
            throw VarlinkError(name: LoginProtocol.unavailable, parameters: ["reason": .string("\(error)")])
        }
    }

    private func check(_ user: String) throws(VarlinkError) {
        guard ManageInterface.isPlausibleName(user) else { throw .invalidParameter("user") }
    }
}
