import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// An account that can log in, as `twostep report` lists it.
struct LoginAccount {
    let account: UserAccount
    /// The login shell as the password database gives it (empty: /bin/sh).
    let shell: String

    /// Every account with a login shell, in password-database order
    /// (`getpwent`, so NSS sources such as LDAP count too; a name seen twice
    /// is listed once, as `getpwnam` would find it first). Used by
    /// `twostep report` and by `setup sshd --enforce`, so both mean the
    /// same accounts.
    ///
    /// The rule is sshd's: the shell (an empty field means /bin/sh, as
    /// login(1) and sshd take it) is an executable regular file and its
    /// name is not `nologin` or `false`.
    static func all() -> [LoginAccount] {
        var seen = Set<String>()
        var found = [LoginAccount]()
        setpwent()
        defer { endpwent() }
        while let entry = getpwent() {
            let p = entry.pointee
            guard let namePointer = p.pw_name else { continue }
            let name = String(cString: namePointer)
            let shell = p.pw_shell.map { String(cString: $0) } ?? ""
            guard isLoginShell(shell), seen.insert(name).inserted else { continue }
            let home = p.pw_dir.map { String(cString: $0) } ?? ""
            found.append(LoginAccount(account: UserAccount(name: name, uid: p.pw_uid, gid: p.pw_gid, home: home), shell: shell))
        }
        return found
    }

    /// The rule of `all()`.
    static func isLoginShell(_ shell: String) -> Bool {
        let path = shell.isEmpty ? "/bin/sh" : shell
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name == "nologin" || name == "false" { return false }
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_mode & 0o111 != 0
    }
}

/// One row of `twostep report`: an account and the state of its record.
/// Times are Unix seconds; a field that cannot be known (the record is
/// unreadable) is nil, and `--json` writes it as `null`.
struct AccountReportRow: Encodable {
    enum Enrolment: String, Encodable {
        /// The record holds at least one method.
        case yes
        /// No record, or one with no method.
        case no
        /// The record could not be used: `problem` and `error` say why.
        case unreadable
        /// Another process held the record's lock past the wait
        /// (`StoreError.busy`): its state is unknown right now (`problem`
        /// is `busy` too); the rest of the report goes on.
        case busy
    }

    /// Why a record is unreadable.
    enum Problem: String, Encodable {
        /// A safety check failed (owner, mode, symlink, links; a home store in
        /// a root-owned directory, i.e. a home that is not mounted).
        case unsafe
        /// The file does not parse.
        case corrupt
        /// The directory that should hold the file does not exist.
        case noDirectory = "no-directory"
        /// Another process held the file's lock too long (`StoreError.busy`).
        case busy
        /// Anything else (a system call failed, a name unusable in a path).
        case error
    }

    var user: String
    var uid: UInt32
    var home: String
    var shell: String
    /// The record's path (nil when the template cannot make one).
    var store: String?
    /// `user` (a file the user owns, read with the user's identity: the home
    /// directory) or `managed` (a root-owned directory, read as root).
    var storeKind: String?
    var enrolled: Enrolment
    /// The record exists (it may hold no method); nil when unreadable.
    var recordExists: Bool?
    var problem: Problem?
    var error: String?
    /// Methods by kind: `totp` (authenticator apps), `sms`, `voice` (phones).
    var methods: [String: Int]?
    /// Security keys enrolled (SPEC §11); JSON `keys`.
    var securityKeys: Int?
    var backupCodesLeft: Int?
    var lastAccepted: Int64?
    var failures: Int?
    /// The end of a running lock-out.
    var lockedUntil: Int64?
    var trustedDevices: Int?
    /// Trusted devices a login would still honour: before their expiry and
    /// within trust_days of their creation (none when trust_days=0).
    var trustedDevicesValid: Int?

    enum CodingKeys: String, CodingKey {
        case user, uid, home, shell, store, storeKind, enrolled, recordExists, problem, error, methods, backupCodesLeft,
             securityKeys = "keys",
             lastAccepted, failures, lockedUntil, trustedDevices, trustedDevicesValid
    }

    /// Every key always, `null` for nil: a script need not test for absence.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user, forKey: .user)
        try c.encode(uid, forKey: .uid)
        try c.encode(home, forKey: .home)
        try c.encode(shell, forKey: .shell)
        try c.encode(store, forKey: .store)
        try c.encode(storeKind, forKey: .storeKind)
        try c.encode(enrolled, forKey: .enrolled)
        try c.encode(recordExists, forKey: .recordExists)
        try c.encode(problem, forKey: .problem)
        try c.encode(error, forKey: .error)
        try c.encode(methods, forKey: .methods)
        try c.encode(securityKeys, forKey: .securityKeys)
        try c.encode(backupCodesLeft, forKey: .backupCodesLeft)
        try c.encode(lastAccepted, forKey: .lastAccepted)
        try c.encode(failures, forKey: .failures)
        try c.encode(lockedUntil, forKey: .lockedUntil)
        try c.encode(trustedDevices, forKey: .trustedDevices)
        try c.encode(trustedDevicesValid, forKey: .trustedDevicesValid)
    }
}

extension AccountReportRow {
    /// The row for `login`, whose record `template` locates. Reads the record
    /// as `twostep status --user` does (`RecordLocation`, `AccountFile`: with the user's
    /// file-system identity for a store the user owns, as root for an
    /// administrator-managed one); never writes. Any failure becomes the
    /// row's `problem`, never an error of the whole report.
    init(_ login: LoginAccount, template: StorePathTemplate, configuration: SystemConfiguration, now: Int64) {
        let options = configuration.options
        let account = login.account
        user = account.name
        uid = account.uid
        home = account.home
        shell = login.shell
        enrolled = .unreadable
        let location: RecordLocation
        do {
            location = try RecordLocation(of: account, in: template)
        } catch {
            // A home store in root's directory is unsafe; a template with no path for this user an error.
            if case .homeNotTheUsers(let path, _) = error {
                store = path
                problem = .unsafe
            } else {
                problem = .error
            }
            self.error = "\(error)"
            return
        }
        store = location.description
        guard case .file(let file) = location else {
            // Fleet mode: the record is twostepd's, read as 'status --user' reads it there.
            storeKind = "fleet"
            do {
                let status = try Target.reach(account, template: template, configuration: configuration, named: true).service.status()
                fill(from: status, trustDays: options.trustDays, now: now)
            } catch {
                problem = .error
                self.error = "\(error)"
            }
            return
        }
        storeKind = file.isAdministratorManaged ? "managed" : "user"
        let read: Result<FactorFile?, StoreError>
        do {
            read = try file.run { () -> Result<FactorFile?, StoreError> in
                do {
                    return .success(try file.file.read())
                } catch let error as StoreError {
                    if case .notEnrolled = error { return .success(nil) }
                    return .failure(error)
                }
            }
        } catch {
            problem = .error
            self.error = "\(error)"
            return
        }
        switch read {
        case .failure(let failure):
            switch failure {
            case .unsafe: problem = .unsafe
            case .corrupt: problem = .corrupt
            case .directoryMissing: problem = .noDirectory
            case .busy:
                problem = .busy
                enrolled = .busy
            default: problem = .error
            }
            error = "\(failure)"
        case .success(let found):
            let status = AccountStatus(found, user: account.name, path: file.path, verifier: Verifier(policy: options.policy), now: now)
            fill(from: status, trustDays: options.trustDays, now: now)
        }
    }

    /// The fields a readable record's status gives.
    private mutating func fill(from status: AccountStatus, trustDays: Int, now: Int64) {
        enrolled = status.enabled ? .yes : .no
        recordExists = status.exists
        var methods = [String: Int]()
        if !status.authenticators.isEmpty { methods["totp"] = status.authenticators.count }
        for phone in status.phones { methods[phone.channel, default: 0] += 1 }
        self.methods = methods
        securityKeys = status.securityKeys.count
        backupCodesLeft = status.backupCodesLeft
        lastAccepted = status.lastAccepted
        failures = status.failures
        lockedUntil = status.lockedUntil
        trustedDevices = status.trustedDevices.count
        let policy = TrustPolicy(trustDays: trustDays, trustBy: nil)
        trustedDevicesValid = status.trustedDevices.filter {
            policy.isCurrent(TrustedDevice(id: $0.id, service: $0.service, remoteHost: $0.rhost, keyFingerprint: $0.key,
                                           created: $0.created, expires: $0.expires), at: now)
        }.count
    }

    /// `totp×2, sms, voice`; nil when there is none.
    var methodsText: String? {
        guard let methods, !methods.isEmpty else { return nil }
        let order = ["totp", "sms", "voice"]
        let kinds = order.filter { methods[$0] != nil } + methods.keys.filter { !order.contains($0) }.sorted()
        return kinds.map { kind in
            let n = methods[kind] ?? 0
            return n == 1 ? kind : "\(kind)×\(n)"
        }.joined(separator: ", ")
    }
}

/// What `twostep report --json` prints: one object.
struct AccountReport: Encodable {
    struct Summary: Encodable {
        var accounts: Int
        var enrolled: Int
        var lockedOut: Int
        var unreadable: Int
        /// Rows whose record was locked by another process past the wait.
        var busy: Int
    }

    /// When the report was made, Unix seconds.
    var generated: Int64
    /// The store template every row's path comes from.
    var storeTemplate: String
    var accounts: [AccountReportRow]
    var summary: Summary
    /// `SystemConfiguration.databaseWarning`: the fleet store's connection
    /// does not protect the records on the network; nil (`null`) when it does
    /// or there is none.
    var databaseWarning: String?

    init(accounts: [AccountReportRow], template: StorePathTemplate, now: Int64, databaseWarning: String? = nil) {
        generated = now
        storeTemplate = template.template
        self.databaseWarning = databaseWarning
        self.accounts = accounts
        summary = Summary(
            accounts: accounts.count,
            enrolled: accounts.filter { $0.enrolled == .yes }.count,
            lockedOut: accounts.filter { $0.lockedUntil != nil }.count,
            unreadable: accounts.filter { $0.enrolled == .unreadable }.count,
            busy: accounts.filter { $0.enrolled == .busy }.count)
    }

    enum CodingKeys: String, CodingKey {
        case generated, storeTemplate, accounts, summary, databaseWarning
    }

    /// Every key always, `null` for no database warning.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(generated, forKey: .generated)
        try c.encode(storeTemplate, forKey: .storeTemplate)
        try c.encode(accounts, forKey: .accounts)
        try c.encode(summary, forKey: .summary)
        try c.encode(databaseWarning, forKey: .databaseWarning)
    }
}
