import CPAMShim
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// SPEC §12 in the module: the note an accepted second step leaves on a
/// `remember_session` line, the session record `pam_sm_open_session` makes
/// of it and `pam_sm_close_session` removes, and the `recent=` check.
struct SessionSteps {
    let session: PAMSession
    let options: ModuleOptions
    let service: String

    private var directory: SessionDirectory { SessionDirectory(socketDirectory: options.socketDirectory) }

    /// In `pam_sm_authenticate`, after an accepted code or enrolled key:
    /// leaves a note for this login's session stack and puts its name into
    /// the PAM environment. Only on a `remember_session` line, never on
    /// the line of sudo, su and their kind, and only in a process that is
    /// in no login session yet (one that is about to start one: sshd,
    /// login; not a program run from a shell). A failure is logged; the
    /// login stands.
    func remember(_ factor: SessionFactor, account: UserAccount, at now: Int64, context: String) {
        guard options.rememberSession else { return }
        guard !StepUp.raisesPrivileges(service: service) else {
            session.log(LOG_NOTICE, "\(context): remember_session is ignored on the line of \(service), which starts no login session")
            return
        }
        if let current = KernelSession.current() {
            session.log(LOG_NOTICE, "\(context): remember_session is ignored: this process is in login session \(current.id) already, so it starts none")
            return
        }
        guard let opener = KernelSession.stamp(of: getpid()) else {
            session.log(LOG_ERR, "\(context): cannot read this process's start time; the session will not be remembered")
            return
        }
        let note = SessionNote(user: account.name, uid: account.uid, factor: factor, verified: now,
                               opener: opener, parent: KernelSession.stamp(of: getppid()))
        do {
            let name = try directory.leave(note)
            guard session.setEnvironment(SessionDirectory.variable, name) else {
                session.log(LOG_ERR, "\(context): cannot set \(SessionDirectory.variable); the session will not be remembered")
                return
            }
            session.debugLog("\(context): left a session note (\(factor.rawValue))")
        } catch {
            session.log(LOG_ERR, "\(context): cannot leave a session note: \(error); the session will not be remembered")
        }
    }

    /// `pam_sm_open_session`: the note named in the PAM environment, if it
    /// is bound to this process, young, for this user and not used yet,
    /// becomes the record of this login session. The variable is removed
    /// from the PAM environment in every case. True when a record was written.
    func open() -> Bool {
        let name = session.environment(SessionDirectory.variable)
        session.removeEnvironment(SessionDirectory.variable)
        guard let name else { return false }
        guard !StepUp.raisesPrivileges(service: service) else {
            session.log(LOG_NOTICE, "session note ignored: \(service) starts no login session")
            return false
        }
        guard let (account, context) = account() else { return false }
        guard let me = KernelSession.stamp(of: getpid()) else { return false }
        let note: SessionNote
        do {
            switch try directory.take(noteNamed: name, for: me) {
            case .none:
                session.log(LOG_NOTICE, "\(context): no such session note (used already, or never left); this session is not remembered")
                return false
            case .boundElsewhere:
                session.log(LOG_NOTICE, "\(context): session note refused: it is bound to another process (left for it); this session is not remembered")
                return false
            case .taken(let taken):
                note = taken
            }
        } catch {
            session.log(LOG_ERR, "\(context): cannot use the session note: \(error); this session is not remembered")
            return false
        }
        if let refusal = note.refusal(process: me, user: account.name, uid: account.uid, at: Int64(time(nil))) {
            session.log(LOG_NOTICE, "\(context): session note refused: \(refusal); this session is not remembered")
            return false
        }
        guard let login = KernelSession.current() else {
            session.log(LOG_NOTICE, "\(context): no audit session id (is pam_loginuid before pam_twostep in the session stack?); this session is not remembered")
            return false
        }
        do {
            try directory.write(SessionRecord(user: account.name, uid: account.uid, factor: note.factor,
                                              verified: note.verified, session: login))
        } catch {
            session.log(LOG_ERR, "\(context): cannot write the session record: \(error)")
            return false
        }
        session.log(LOG_NOTICE, "\(context): session \(login.id) remembered as verified (\(note.factor.rawValue))")
        return true
    }

    /// `pam_sm_close_session`: removes this login session's record.
    func close() -> Bool {
        guard !StepUp.raisesPrivileges(service: service), let login = KernelSession.current(),
              let (account, context) = account() else { return false }
        do {
            guard try directory.removeRecord(of: login, uid: account.uid) else { return false }
            session.debugLog("\(context): session \(login.id) record removed")
            return true
        } catch {
            session.log(LOG_ERR, "\(context): cannot remove the session record: \(error)")
            return false
        }
    }

    /// `recent=`: PAM_SUCCESS with no prompt when this process's login
    /// session passed the second step lately (`StepUp`); nil for the usual flow.
    func stepUp(account: UserAccount, file: FactorFile, at now: Int64, context: String) -> Outcome? {
        guard options.stepUp.seconds > 0 else { return nil }
        guard !StepUp.startsLoginSessions(service: service), !options.rememberSession else {
            session.log(LOG_NOTICE, "\(context): recent= is ignored on the line of \(service), which starts login sessions")
            return nil
        }
        guard let login = KernelSession.current() else {
            session.debugLog("\(context): no audit session id: no step-up")
            return nil
        }
        let record: SessionRecord
        do {
            guard let found = try directory.record(of: login, uid: account.uid) else {
                session.debugLog("\(context): session \(login.id) has no verified login: no step-up")
                return nil
            }
            record = found
        } catch {
            session.log(LOG_ERR, "\(context): cannot use the session record: \(error); no step-up")
            return nil
        }
        switch options.stepUp.decide(record: record, user: account.name, uid: account.uid, file: file, at: now) {
        case .allowed(let factor, let age):
            session.log(LOG_NOTICE, "\(context): session \(login.id) passed the second step (\(factor.rawValue)) \(age) s ago, recent=\(options.stepUp.seconds): no code asked")
            return .success
        case .usualFlow(let reason):
            session.log(LOG_NOTICE, "\(context): no step-up: \(reason)")
            return nil
        case .ended(let reason):
            session.log(LOG_NOTICE, "\(context): no step-up: \(reason); the session's record is removed")
            _ = try? directory.removeRecord(of: login, uid: account.uid)
            return nil
        }
    }

    /// The account of PAM_USER and a log context, nil (logged) when there is none.
    private func account() -> (UserAccount, String)? {
        guard let typed = session.user() else { return nil }
        let context = "user \(typed) service \(service) session"
        do {
            guard let account = try session.account(named: typed) else {
                session.log(LOG_NOTICE, "\(context): unknown user")
                return nil
            }
            return (account, context)
        } catch {
            session.log(LOG_ERR, "\(context): \(error)")
            return nil
        }
    }
}

/// `pam_sm_open_session`, called from the C shim.
@_cdecl("twostep_open_session")
public func twostepOpenSession(
    _ pamh: OpaquePointer?, _ flags: Int32, _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> Int32 {
    guard let steps = SessionSteps(pamh, argc, argv) else { return PAM_IGNORE }
    return steps.open() ? PAM_SUCCESS : PAM_IGNORE
}

/// `pam_sm_close_session`, called from the C shim.
@_cdecl("twostep_close_session")
public func twostepCloseSession(
    _ pamh: OpaquePointer?, _ flags: Int32, _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> Int32 {
    guard let steps = SessionSteps(pamh, argc, argv) else { return PAM_IGNORE }
    return steps.close() ? PAM_SUCCESS : PAM_IGNORE
}

extension SessionSteps {
    /// The session steps of a PAM call, with the line's options; nil
    /// (logged) when the configuration is broken: then nothing is
    /// remembered, and the session goes on.
    init?(_ pamh: OpaquePointer?, _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafePointer<CChar>?>?) {
        guard let pamh else { return nil }
        var session = PAMSession(handle: pamh)
        guard let (options, _) = ModuleConfiguration.options(arguments: ModuleEntry.arguments(argc, argv), session: session) else {
            session.removeEnvironment(SessionDirectory.variable)
            return nil
        }
        session.debug = options.debug
        self.init(session: session, options: options, service: session.item(PAM_SERVICE) ?? "unknown")
    }
}
