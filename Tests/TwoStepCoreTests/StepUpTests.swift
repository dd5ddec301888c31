import Testing
@testable import TwoStepCore

/// SPEC §12's pure parts: the options, the note and record lines, and the
/// `recent=` decision.
@Suite("Step-up: recent=, session notes and records")
struct StepUpTests {
    static let boot = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    static let session = LoginSessionID(boot: boot, id: 7)!
    static let verified: Int64 = 1_800_000_000

    static func record(factor: SessionFactor = .authenticator, user: String = "alice", uid: UInt32 = 1000) -> SessionRecord {
        SessionRecord(user: user, uid: uid, factor: factor, verified: verified, session: session)
    }

    static func file(created: Int64 = 1, lockedUntil: Int64? = nil, failures: Int = 0, last: Int64? = nil) -> FactorFile {
        var f = FactorFile(factors: [TOTPAuthenticator(id: "totp-1", secret: SecretBytes(rfcKey20), parameters: .standard,
                                                       label: "phone", created: created)])
        f.failures.lockedUntil = lockedUntil
        f.failures.count = failures
        f.failures.last = last
        return f
    }

    // MARK: Options

    @Test("recent=, recent_factor= and remember_session on the pam.d line")
    func options() throws {
        let o = try ModuleOptions(arguments: ["recent=900", "recent_factor=security-key"])
        #expect(o.stepUp == StepUp(seconds: 900, factor: .securityKey))
        #expect(try ModuleOptions(arguments: ["remember_session"]).rememberSession)
        #expect(ModuleOptions().stepUp.seconds == 0 && ModuleOptions().stepUp.factor == .any && !ModuleOptions().rememberSession)
        #expect(try ModuleOptions(arguments: ["recent=0"]).stepUp.seconds == 0)
        #expect(try ModuleOptions(arguments: ["recent=3600"]).stepUp.seconds == 3600)
    }

    @Test("bad values refused", arguments: ["recent=3601", "recent=-1", "recent=", "recent", "recent=5m", "recent_factor=code",
                                            "recent_factor=", "remember_session=yes", "recent=1 ", "recent=10\nrecent=20"])
    func badValues(_ argument: String) {
        #expect(thrownError { () throws(TwoStepError) in try ModuleOptions(arguments: [argument]) } != nil)
    }

    @Test("given twice on the line")
    func twice() {
        #expect(thrownError { () throws(TwoStepError) in try ModuleOptions(arguments: ["recent=10", "recent=20"]) } != nil)
    }

    @Test("never keys of twostep.conf", arguments: ["recent=900\n", "recent_factor=any\n", "remember_session=yes\n"])
    func notInTheFile(_ text: String) {
        do throws(ConfigurationError) {
            _ = try SystemConfiguration(parsing: Array(text.utf8), path: "/etc/twostep/twostep.conf")
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains("pam.d option"))
        }
    }

    // MARK: Lines

    @Test("a note's line round-trips, with and without a parent")
    func noteRoundTrip() throws {
        for parent in [ProcessStamp(pid: 40, start: 12), nil] {
            let note = SessionNote(user: "alice", uid: 1000, factor: .backupCode, verified: Self.verified,
                                   opener: ProcessStamp(pid: 41, start: 13), parent: parent)
            #expect(try SessionNote(parsing: note.text) == note)
        }
    }

    @Test("a record's line round-trips")
    func recordRoundTrip() throws {
        let r = Self.record(factor: .securityKey)
        #expect(try SessionRecord(parsing: r.text) == r)
        #expect(r.text.hasPrefix("session user=alice uid=1000 factor=security-key verified=1800000000 boot=\(Self.boot) id=7"))
    }

    @Test("malformed notes and records refused", arguments: [
        "", "\n", "session-note user=alice\n", "session user=a uid=1 factor=phone verified=1 boot=x id=1\n",
        "session user=a uid=1 factor=sms verified=1 boot=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 id=1\n",
        "session user=a uid=1 factor=phone verified=1 boot=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 id=4294967295\n",
        "session user=a uid=1 factor=phone verified=1 boot=0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0 id=1\n",
        "session user=a uid=1 factor=phone verified=1 boot=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 id=1 extra=1\n",
        "session user=a uid=1 factor=phone verified=1 boot=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 id=1\nsession user=b\n",
    ])
    func malformed(_ text: String) {
        #expect(thrownError { () throws(TwoStepError) in try SessionRecord(parsing: text) } != nil)
        #expect(thrownError { () throws(TwoStepError) in try SessionNote(parsing: text) } != nil)
    }

    @Test("a note is for its opener or the opener's parent, this user, within a minute")
    func noteRefusal() {
        let opener = ProcessStamp(pid: 41, start: 13), parent = ProcessStamp(pid: 40, start: 12)
        let note = SessionNote(user: "alice", uid: 1000, factor: .authenticator, verified: 100, opener: opener, parent: parent)
        #expect(note.refusal(process: parent, user: "alice", uid: 1000, at: 130) == nil)
        #expect(note.refusal(process: opener, user: "alice", uid: 1000, at: 160) == nil)
        // A reused PID: same number, another start time.
        #expect(note.refusal(process: ProcessStamp(pid: 40, start: 99), user: "alice", uid: 1000, at: 130) != nil)
        #expect(note.refusal(process: ProcessStamp(pid: 42, start: 13), user: "alice", uid: 1000, at: 130) != nil)
        #expect(note.refusal(process: parent, user: "bob", uid: 1000, at: 130) != nil)
        #expect(note.refusal(process: parent, user: "alice", uid: 1001, at: 130) != nil)
        #expect(note.refusal(process: parent, user: "alice", uid: 1000, at: 161) != nil)
        #expect(note.refusal(process: parent, user: "alice", uid: 1000, at: 98) != nil)
    }

    @Test("the boot id must be one", arguments: ["", "x", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/"])
    func bootID(_ boot: String) {
        #expect(LoginSessionID(boot: boot, id: 1) == nil)
    }

    // MARK: The decision

    static let any = StepUp(seconds: 900, factor: .any)

    @Test("the same session's user within recent= goes through")
    func allowed() {
        #expect(Self.any.decide(record: Self.record(), user: "alice", uid: 1000, file: Self.file(), at: Self.verified + 899)
            == .allowed(factor: .authenticator, age: 899))
    }

    @Test("expired, another user, the wrong factor, a clock stepped back: the usual flow")
    func usualFlow() {
        func decision(_ step: StepUp = Self.any, _ r: SessionRecord = Self.record(), user: String = "alice", uid: UInt32 = 1000,
                      at: Int64 = Self.verified + 10) -> StepUp.Decision {
            step.decide(record: r, user: user, uid: uid, file: Self.file(), at: at)
        }
        func isUsual(_ d: StepUp.Decision) -> Bool { if case .usualFlow = d { true } else { false } }
        #expect(isUsual(decision(at: Self.verified + 900)))
        #expect(isUsual(decision(user: "bob")))
        #expect(isUsual(decision(uid: 1001)))
        #expect(isUsual(decision(StepUp(seconds: 900, factor: .securityKey))))
        #expect(isUsual(decision(at: Self.verified - 60)))
        #expect(decision(StepUp(seconds: 900, factor: .securityKey), Self.record(factor: .securityKey))
            == .allowed(factor: .securityKey, age: 10))
    }

    @Test("a re-enrolment, a lock-out or a wrong code since the login ends it")
    func ended() {
        func isEnded(_ d: StepUp.Decision) -> Bool { if case .ended = d { true } else { false } }
        let at = Self.verified + 10
        #expect(isEnded(Self.any.decide(record: Self.record(), user: "alice", uid: 1000, file: Self.file(created: Self.verified + 5), at: at)))
        #expect(isEnded(Self.any.decide(record: Self.record(), user: "alice", uid: 1000,
                                        file: Self.file(lockedUntil: Self.verified + 300), at: at)))
        #expect(isEnded(Self.any.decide(record: Self.record(), user: "alice", uid: 1000, file: FactorFile(), at: at)))
        // A wrong code since the login (a lock-out that ran out and was
        // cleared by the next answer leaves just that).
        #expect(isEnded(Self.any.decide(record: Self.record(), user: "alice", uid: 1000,
                                        file: Self.file(failures: 1, last: Self.verified + 3), at: at)))
        #expect(Self.any.decide(record: Self.record(), user: "alice", uid: 1000, file: Self.file(failures: 2, last: Self.verified - 3), at: at)
            == .allowed(factor: .authenticator, age: 10))
        // A lock-out that had ended before the login does not.
        #expect(Self.any.decide(record: Self.record(), user: "alice", uid: 1000, file: Self.file(lockedUntil: Self.verified - 1), at: at)
            == .allowed(factor: .authenticator, age: 10))
    }

    @Test("which services start sessions, which raise privileges")
    func services() {
        for s in ["sshd", "login", "gdm-password", "lightdm", "sddm"] { #expect(StepUp.startsLoginSessions(service: s)) }
        for s in ["sudo", "su", "twostep-it-1", "cron"] { #expect(!StepUp.startsLoginSessions(service: s)) }
        for s in ["sudo", "sudo-i", "su", "su-l", "runuser", "pkexec", "doas"] { #expect(StepUp.raisesPrivileges(service: s)) }
        for s in ["sshd", "login", "twostep-it-1"] { #expect(!StepUp.raisesPrivileges(service: s)) }
    }
}
