import Foundation
import Testing
import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// A private directory under /tmp, removed at the end.
final class Scratch {
    let dir: String
    init() {
        var template = Array("/tmp/twostep-accounts-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chmod(dir, 0o700)
    }
    deinit { _ = system("rm -rf '\(dir)'") }
}

/// An authenticator app's view of one key: the codes it shows.
struct App {
    let bytes: [UInt8]
    init() throws { bytes = try SystemRandom.bytes(20) }
    var key: NewKey { NewKey(secret: Base32.encode(bytes), algorithm: "SHA1", digits: 6, period: 30, label: "phone") }
    func code(steps offset: Int64 = 0) -> String {
        OTP.totp(secret: SecretBytes(bytes), at: Clock.now + 30 * offset, parameters: .standard)
    }
}

/// The service on `account`'s file in `scratch`, with `settings`.
func scratchService(_ scratch: Scratch, account: UserAccount, administrator: Bool = false,
                    settings: AccountSettings = AccountSettings()) throws -> LocalAccountService {
    guard case .file(let file) = try RecordLocation(of: account, in: try StorePathTemplate(scratch.dir + "/%u")) else {
        throw AccountError.failure("not a file")
    }
    return LocalAccountService(file: file, isAdministrator: administrator, settings: settings)
}

@Suite("LocalAccountService on a real factor file")
struct LocalAccountServiceTests {
    /// The service on `account`'s file in `scratch`, a root-owned directory:
    /// an administrator-managed store when the tests run as root.
    func service(_ scratch: Scratch, account: UserAccount, administrator: Bool = false) throws -> LocalAccountService {
        try scratchService(scratch, account: account, administrator: administrator)
    }

    let owner = UserAccount(name: "root", uid: 0, gid: 0, home: "/root")

    @Test("enrol, then a code is accepted once and a wrong one counts as a failure")
    func enrolAndVerify() throws {
        let scratch = Scratch()
        let app = try App()
        let accounts = try service(scratch, account: owner)
        let enrolled = try accounts.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 3))
        #expect(enrolled.backupCodes.count == 3)
        #expect(try accounts.status().enabled)
        // The enrolment's code is spent: the same code again is refused.
        #expect(throws: AccountError.self) { try accounts.verify(VerifyRequest(code: app.code())) }
        _ = try accounts.verify(VerifyRequest(code: app.code(steps: 1)))
        let before = try accounts.status().failures
        #expect(throws: AccountError.self) { try accounts.verify(VerifyRequest(code: "000000x")) }
        let wrong = app.code() == "123456" ? "654321" : "123456"
        #expect(throws: AccountError.self) { try accounts.verify(VerifyRequest(code: wrong)) }
        #expect(try accounts.status().failures > before)
        // A backup code works once.
        let backup = try #require(enrolled.backupCodes.first)
        #expect(try accounts.verify(VerifyRequest(code: backup)).backupCodesLeft == 2)
        #expect(throws: AccountError.self) { try accounts.verify(VerifyRequest(code: backup)) }
    }

    @Test("a second enrolment needs --force and a code from the first; a wrong one changes nothing")
    func replacementNeedsCode() throws {
        let scratch = Scratch()
        let first = try App(), second = try App()
        let accounts = try service(scratch, account: owner)
        _ = try accounts.enroll(EnrollRequest(key: first.key, code: first.code(), backupCodes: 2))
        let path = scratch.dir + "/root"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(throws: AccountError.usage("\(path) already exists: two-step verification is already set up for root. Use --force to replace it")) {
            try accounts.enroll(EnrollRequest(key: second.key, code: second.code(), backupCodes: 2))
        }
        #expect(throws: AccountError.self) {
            try accounts.enroll(EnrollRequest(key: second.key, code: second.code(), backupCodes: 2, force: true, oldCode: "99999999"))
        }
        // Only the failure count may differ: the authenticator is the first one.
        #expect(try accounts.status().authenticators.count == 1)
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first == text.split(separator: "\n").first)
        _ = try accounts.enroll(EnrollRequest(key: second.key, code: second.code(), backupCodes: 2, force: true,
                                              oldCode: first.code(steps: 1)))
        _ = try accounts.verify(VerifyRequest(code: second.code(steps: 1)))
    }

    @Test("in an administrator-managed store only root replaces a corrupt record; the user gets an error and the file stays")
    func corruptManagedRecord() throws {
        let scratch = Scratch()
        let user = UserAccount(name: "carol", uid: 54321, gid: 54321, home: "/nonexistent")
        let path = scratch.dir + "/carol"
        let garbage = "twostep 1\nnonsense here\n"
        try garbage.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        let app = try App()
        let asUser = try service(scratch, account: user)
        #expect(asUser.isAdministratorManaged)
        #expect(throws: AccountError.self) {
            try asUser.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 1, force: true))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == garbage)
        let asRoot = try service(scratch, account: user, administrator: true)
        let result = try asRoot.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 1, force: true))
        #expect(result.replacedCorrupt)
        #expect(try asRoot.status().enabled)
    }

    @Test("disable with a code removes every method; reset needs none for root")
    func disableAndReset() throws {
        let scratch = Scratch()
        let app = try App()
        let accounts = try service(scratch, account: owner)
        _ = try accounts.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 1))
        #expect(throws: AccountError.self) { try accounts.disable(DisableRequest(code: nil)) }
        _ = try accounts.disable(DisableRequest(code: app.code(steps: 1)))
        #expect(try !accounts.status().enabled)
        let again = try App()
        _ = try accounts.enroll(EnrollRequest(key: again.key, code: again.code(), backupCodes: 1, force: true))
        _ = try self.service(scratch, account: owner, administrator: true).reset()
        #expect(try !accounts.status().exists)
    }
}

@Suite("RecordLocation: where a user's record is")
struct RecordLocationTests {
    @Test("store=twostepd: twostepd's for everyone, root too")
    func fleet() throws {
        let user = UserAccount(name: "dave", uid: 1234, gid: 1234, home: "/home/dave")
        let location = try RecordLocation(of: user, in: .daemon)
        guard case .twostepd(let name) = location else { Issue.record("not twostepd"); return }
        #expect(name == "dave")
        #expect(location.isReachedThroughTwostepd(byRoot: true))
        #expect(location.description == "twostepd: dave")
    }

    @Test("a root-owned directory outside the home: managed, through twostepd for users, the file for root")
    func managed() throws {
        guard geteuid() == 0 else { return }
        let scratch = Scratch()
        let user = UserAccount(name: "erin", uid: 4321, gid: 4321, home: "/home/erin")
        let location = try RecordLocation(of: user, in: try StorePathTemplate(scratch.dir + "/%u"))
        guard case .file(let file) = location else { Issue.record("not a file"); return }
        #expect(file.path == scratch.dir + "/erin")
        #expect(file.isAdministratorManaged && !file.actsAsUser)
        #expect(location.isReachedThroughTwostepd(byRoot: false))
        #expect(!location.isReachedThroughTwostepd(byRoot: true))
    }

    @Test("a home store: the user's own identity; a root-owned home for a user is refused; a name with '/' has no path")
    func home() throws {
        guard geteuid() == 0 else { return }
        let scratch = Scratch()
        let home = scratch.dir + "/frank"
        mkdir(home, 0o700)
        chown(home, 4322, 4322)
        let user = UserAccount(name: "frank", uid: 4322, gid: 4322, home: home)
        guard case .file(let file) = try RecordLocation(of: user, in: .standard) else { Issue.record("not a file"); return }
        #expect(file.actsAsUser && !file.isAdministratorManaged)
        chown(home, 0, 0)  // the mount point of a home that is not mounted
        #expect(throws: RecordLocation.Failure.homeNotTheUsers(path: home + "/.twostep", user: "frank")) {
            try RecordLocation(of: user, in: .standard)
        }
        // Root's own home store is root's: no refusal.
        let root = UserAccount(name: "root", uid: 0, gid: 0, home: home)
        guard case .file(let rootFile) = try RecordLocation(of: root, in: .standard) else { Issue.record("not a file"); return }
        #expect(!rootFile.isAdministratorManaged)
        let odd = UserAccount(name: "a/b", uid: 4323, gid: 4323, home: home)
        #expect(throws: RecordLocation.Failure.self) { try RecordLocation(of: odd, in: try StorePathTemplate(scratch.dir + "/%u")) }
    }
}
