import FoundationEssentials
import TwoStepAccounts
import TwoStepVarlink

/// `AccountService` through twostepd (SPEC §8): each method is one call of
/// the Varlink interface `io.twostep.Manage` on DIR/io.twostep.Manage. The
/// daemon knows the caller from the socket (`SO_PEERCRED`), so no request
/// names a user; its answers and errors are the ones `LocalAccountService`
/// gives on its side, so output and exit codes match the file path.
struct DaemonAccountService: AccountService {
    /// Longer than any call takes: a channel plugin may run for 10 s.
    static let timeoutSeconds = 30.0

    let socketPath: String
    /// Root's `--user`: the record to act on (twostepd lets only root name one).
    let user: String?

    init(socketDirectory: String, user: String? = nil) {
        socketPath = socketDirectory + "/" + ManageProtocol.socketName
        self.user = user
    }

    func status() throws(AccountError) -> AccountStatus { try call(.status, Empty()) }
    func enroll(_ request: EnrollRequest) throws(AccountError) -> EnrollResult { try call(.enroll, request) }
    func verify(_ request: VerifyRequest) throws(AccountError) -> Authorization { try call(.verify, request) }
    func newBackupCodes(_ request: NewBackupCodesRequest) throws(AccountError) -> BackupCodesResult { try call(.newBackupCodes, request) }
    func addAuthenticator(_ request: AddAuthenticatorRequest) throws(AccountError) -> AddedResult { try call(.addAuthenticator, request) }
    func sendPhoneConfirmation(_ request: PhoneConfirmationRequest) throws(AccountError) -> SentResult {
        try call(.sendPhoneConfirmation, request)
    }
    func addPhone(_ request: AddPhoneRequest) throws(AccountError) -> AddedResult { try call(.addPhone, request) }
    func addSecurityKey(_ request: AddSecurityKeyRequest) throws(AccountError) -> AddedResult { try call(.addSecurityKey, request) }
    func remove(_ request: RemoveRequest) throws(AccountError) -> Authorization { try call(.remove, request) }
    func revokeTrust(_ request: RevokeTrustRequest) throws(AccountError) -> RevokedResult { try call(.revokeTrust, request) }
    func disable(_ request: DisableRequest) throws(AccountError) -> Authorization { try call(.disable, request) }
    func importGoogleAuthenticator(_ request: ImportRequest) throws(AccountError) -> ImportResult {
        try call(.importGoogleAuthenticator, request)
    }
    func reset() throws(AccountError) -> ResetResult { try call(.reset, Empty()) }

    private struct Empty: Codable {}

    private func call<Request: Encodable, Reply: Decodable>(_ method: ManageProtocol.Method, _ request: Request) throws(AccountError) -> Reply {
        let parameters: Data
        do {
            var fields = try VarlinkCoding.value(of: request).objectValue ?? [:]
            if let user { fields["user"] = .string(user) }
            parameters = VarlinkCoding.data(of: .object(fields))
        } catch {
            throw .failure("cannot encode the request: \(error)")
        }
        let reply: Data
        do {
            reply = try VarlinkClient(socketPath: socketPath, timeout: Self.timeoutSeconds)
                .call(method.qualifiedName, parameters: parameters)
        } catch {
            throw Self.accountError(error)
        }
        do { return try JSONDecoder().decode(Reply.self, from: reply) } catch {
            throw .failure("twostepd at \(socketPath) gave an answer twostep cannot read: \(error)")
        }
    }

    /// A Varlink error as the same `AccountError` the file path would give.
    private static func accountError(_ error: VarlinkClientError) -> AccountError {
        guard case .reply(let failure) = error else {
            return .failure("\(error); is twostepd running? 'systemctl start twostepd.socket' starts it")
        }
        let message = failure.parameters["message"]?.stringValue ?? failure.name
        switch ManageProtocol.ErrorName(qualifiedName: failure.name) {
        case .usage?, .permissionDenied?, .invalidUser?: return .usage(message)
        case .codeRefused?, .selfEnrollDisabled?: return .refused(message)
        case .storeProblem?, .notManaged?, .busy?, nil: return .failure("twostepd: \(message)")
        }
    }
}
