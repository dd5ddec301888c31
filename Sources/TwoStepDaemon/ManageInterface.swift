import FoundationEssentials
import Logging
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
import TwoStepVarlink

/// `io.twostep.Manage` (SPEC §8): every self-service operation of `twostep`
/// on the caller's record, done by TwoStepAccounts' `LocalAccountService`
/// as root, so that users of an administrator-managed store can change
/// their settings without being able to read their secret or change their
/// verification state.
///
/// The caller is the peer uid the server read with `SO_PEERCRED`, nothing
/// else: a request from an ordinary user acts on that user's record and
/// may not name another; root may name anyone (and then, as with
/// `twostep --user`, needs no code).
struct ManageInterface: VarlinkInterface {
    let name = ManageProtocol.interface
    var description: String { ManageProtocol.idl }
    let configuration: SystemConfiguration
    /// The fleet store (backend=postgresql: the database, or with
    /// offline=cached `OfflineCache.online`, which keeps this host's copies
    /// current); nil: the files of `store=`.
    var database: (any RecordBackend)? = nil
    /// Where sends are counted (SPEC §5): the database's `twostep_sends`
    /// in fleet mode (never the offline copy: no send without the
    /// database), else root's `send_count_dir=`.
    let sendCounter: any SendCounter

    /// The fleet store's connections, for `DatabaseStatus`; nil with backend=file.
    let connections: PostgresConnections?

    init(configuration: SystemConfiguration, database: (any RecordBackend)? = nil, sendCounter: (any SendCounter)? = nil,
         connections: PostgresConnections? = nil) {
        self.configuration = configuration
        self.database = database
        self.sendCounter = sendCounter ?? SendCountDirectory(path: configuration.options.sendCountDirectory)
        self.connections = connections
    }
    /// Codes sent to phones being added, between two calls.
    let confirmations = PhoneConfirmations()
    var holdsState: Bool { confirmations.holdsState(at: Clock.now, window: configuration.options.sendPolicy.window) }
    let logger = Logger(label: "twostepd.manage")

    private struct Caller: Decodable { var user: String? }
    private struct Empty: Codable {}

    func call(method: String, parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data {
        // The server answers only the methods the IDL declares; this is for any other caller.
        guard let method = ManageProtocol.Method(rawValue: method) else { throw .methodNotFound(name + "." + method) }
        if method == .databaseStatus { return try databaseStatus(parameters, peer: peer) }
        let named = try VarlinkCoding.decode(Caller.self, from: parameters).user
        let service = try resolve(named, peer: peer)
        let who = "uid \(peer.uid) (pid \(peer.pid)) on \(service.account.name)"
        do {
            let reply = try run(method, parameters, service, peer: peer)
            logger.info("\(method) for \(who): done")
            return reply
        } catch {
            // The error's name only: its message may quote a path, never a value sent.
            logger.notice("\(method) for \(who): \(error.name)")
            throw error
        }
    }

    /// Decodes the request (only the parameters the IDL declares: its own
    /// and `user`), runs it and encodes the reply.
    private func run(_ method: ManageProtocol.Method, _ parameters: Data, _ service: LocalAccountService, peer: PeerCredentials) throws(VarlinkError) -> Data {
        func request<T: Decodable>(_ type: T.Type) throws(VarlinkError) -> T {
            try VarlinkCoding.decode(type, from: parameters, fields: Self.parameterNames[method] ?? [])
        }
        func reply<R: Encodable>(_ body: () throws(AccountError) -> R) throws(VarlinkError) -> Data {
            let value: R
            do { value = try body() } catch { throw Self.varlinkError(error) }
            return try VarlinkCoding.encode(value)
        }
        switch method {
        case .status:
            _ = try request(Empty.self)
            return try reply { () throws(AccountError) in try service.status() }
        case .enroll:
            let r = try request(EnrollRequest.self)
            try checkSelfEnrolment(service, peer: peer)
            return try reply { () throws(AccountError) in try service.enroll(r) }
        case .importGoogleAuthenticator:
            let r = try request(ImportRequest.self)
            try checkSelfEnrolment(service, peer: peer)
            return try reply { () throws(AccountError) in try service.importGoogleAuthenticator(r) }
        case .verify:
            let r = try request(VerifyRequest.self)
            return try reply { () throws(AccountError) in try service.verify(r) }
        case .newBackupCodes:
            let r = try request(NewBackupCodesRequest.self)
            return try reply { () throws(AccountError) in try service.newBackupCodes(r) }
        case .addAuthenticator:
            let r = try request(AddAuthenticatorRequest.self)
            return try reply { () throws(AccountError) in try service.addAuthenticator(r) }
        case .sendPhoneConfirmation:
            let r = try request(PhoneConfirmationRequest.self)
            try checkSelfEnrolment(service, peer: peer)
            return try reply { () throws(AccountError) in try service.sendPhoneConfirmation(r) }
        case .addPhone:
            let r = try request(AddPhoneRequest.self)
            return try reply { () throws(AccountError) in try service.addPhone(r) }
        case .addSecurityKey:
            let r = try request(AddSecurityKeyRequest.self)
            return try reply { () throws(AccountError) in try service.addSecurityKey(r) }
        case .remove:
            let r = try request(RemoveRequest.self)
            return try reply { () throws(AccountError) in try service.remove(r) }
        case .revokeTrust:
            let r = try request(RevokeTrustRequest.self)
            return try reply { () throws(AccountError) in try service.revokeTrust(r) }
        case .disable:
            let r = try request(DisableRequest.self)
            return try reply { () throws(AccountError) in try service.disable(r) }
        case .reset:
            _ = try request(Empty.self)
            return try reply { () throws(AccountError) in try service.reset() }
        case .databaseStatus:
            return try databaseStatus(parameters, peer: peer)
        }
    }

    /// `DatabaseStatus` (SPEC §13): root only; about no user's record.
    private func databaseStatus(_ parameters: Data, peer: PeerCredentials) throws(VarlinkError) -> Data {
        guard peer.uid == 0 else { throw Self.error(.permissionDenied, "only root may ask for the database's status") }
        _ = try VarlinkCoding.decode(Empty.self, from: parameters, fields: Self.parameterNames[.databaseStatus] ?? [])
        return try VarlinkCoding.encode(connections.map(DatabaseStatus.read) ?? .fileBackend)
    }

    /// Each method's parameter names, as `ManageProtocol.idl` declares them:
    /// a call with any other is refused (InvalidParameter naming it).
    static let parameterNames: [ManageProtocol.Method: Set<String>] = VarlinkIDL.parameterNames(of: ManageProtocol.definition)

    /// The service for the record the request may act on.
    private func resolve(_ named: String?, peer: PeerCredentials) throws(VarlinkError) -> LocalAccountService {
        let account: UserAccount
        do {
            if let named {
                guard Self.isPlausibleName(named) else {
                    throw Self.error(.invalidUser, "a user name must be 1 to 256 characters without '/', NUL or a leading '.' or '-'")
                }
                if peer.uid != 0 {
                    guard let caller = try UserAccount.withID(peer.uid), caller.name == named else {
                        throw Self.error(.permissionDenied, "uid \(peer.uid) may act on its own record only; only root may name another user")
                    }
                }
                guard let found = try UserAccount.named(named) else { throw Self.error(.invalidUser, "no such user '\(named)'") }
                account = found
            } else {
                guard let found = try UserAccount.withID(peer.uid) else {
                    throw Self.error(.invalidUser, "uid \(peer.uid) is not in the password database")
                }
                account = found
            }
        } catch let error as VarlinkError {
            throw error
        } catch {
            throw Self.error(.storeProblem, "cannot look up the user: \(error)")
        }
        let settings = AccountSettings(configuration: configuration)
        let isAdministrator = peer.uid == 0 && named != nil
        if let database {
            // Fleet mode: the record is the user name's row, the same on every host.
            return LocalAccountService(account: account, databaseStore: Self.row(of: account, in: database),
                                       isAdministrator: isAdministrator, settings: settings, confirmations: confirmations,
                                       sendCounter: sendCounter)
        }
        let location: RecordLocation
        do { location = try RecordLocation(of: account, in: configuration.options.store) } catch { throw Self.varlinkError(AccountError(error)) }
        guard case .file(let file) = location, location.isReachedThroughTwostepd(byRoot: false) else {
            throw Self.error(.notManaged,
                "\(location.description) is not in an administrator-managed store (a root-owned directory outside the home): twostep uses it directly, not through twostepd")
        }
        return LocalAccountService(file: file, isAdministrator: isAdministrator, settings: settings, confirmations: confirmations,
                                   sendCounter: sendCounter)
    }

    /// The fleet record of `account`: the user name's row.
    private static func row<Backend: RecordBackend>(of account: UserAccount, in backend: Backend) -> any RecordStore {
        VersionedRecordStore(backend: backend, user: account.name)
    }

    /// `self_enroll=no`: an ordinary user who is not enrolled may not enrol
    /// here. A record that cannot be read or holds no method counts as none.
    private func checkSelfEnrolment(_ service: LocalAccountService, peer: PeerCredentials) throws(VarlinkError) {
        guard !configuration.selfEnroll, peer.uid != 0 else { return }
        let enrolled = (try? service.status().enabled) ?? false
        if !enrolled {
            throw Self.error(.selfEnrollDisabled,
                "self_enroll=no: users cannot turn two-step verification on themselves here; ask an administrator ('twostep enroll --user NAME')")
        }
    }

    /// A user name as the password database could hold one, and no path trick.
    static func isPlausibleName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...256).contains(bytes.count), let first = bytes.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return !bytes.contains(0) && !bytes.contains(UInt8(ascii: "/")) && !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f })
    }

    static func error(_ name: ManageProtocol.ErrorName, _ message: String) -> VarlinkError {
        VarlinkError(name: name.qualifiedName, parameters: ["message": .string(message)])
    }

    /// The accounts layer's three kinds of failure as the interface's errors.
    static func varlinkError(_ error: AccountError) -> VarlinkError {
        switch error {
        case .usage(let message): Self.error(.usage, message)
        case .refused(let message): Self.error(.codeRefused, message)
        case .failure(let message): Self.error(.storeProblem, message)
        }
    }
}
