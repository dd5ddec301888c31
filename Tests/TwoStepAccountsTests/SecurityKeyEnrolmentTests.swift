import Foundation
import Testing
import TwoStepAccounts
import TwoStepCore
import TwoStepStore

/// `LocalAccountService.addSecurityKey` on a real factor file (SPEC §11):
/// what is written, and that every refusal writes nothing.
@Suite("Enrolling a security key on a real factor file")
struct SecurityKeyEnrolmentTests {
    /// Real keys (ssh-keygen with OpenSSH's sk-dummy provider) and what `ssh-keygen -lf` printed.
    static let touch = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICszoa6cLjy/dcITygpQU7k5MJzXbhLqsesdWPvLYjA+AAAABHNzaDo= touch"
    static let touchFingerprint = "SHA256:MqxGo7uFn3pYxSr+vA35RzL9RTmosh+AhgxGg1BzvlU"
    static let plain = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkgaQJ+3F52NzXE+c4wJCczqH363krW4kajiu6xmF6R plain"

    let owner = UserAccount(name: "root", uid: 0, gid: 0, home: "/root")
    let user = UserAccount(name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent")

    func service(_ scratch: Scratch, account: UserAccount, administrator: Bool = false,
                 enrol: SystemConfiguration.SecurityKeyEnrol = .user) throws -> LocalAccountService {
        try scratchService(scratch, account: account, administrator: administrator, settings: AccountSettings(securityKeyEnrol: enrol))
    }

    /// A record of root's in a new scratch store, enrolled with an app and `backupCodes` backup codes.
    func enrolled(backupCodes: Int = 2) throws -> (Scratch, App, LocalAccountService, EnrollResult) {
        let scratch = Scratch()
        let app = try App()
        let accounts = try service(scratch, account: owner)
        return (scratch, app, accounts, try accounts.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: backupCodes)))
    }

    @Test("a key is enrolled after a code, listed with its ssh-keygen fingerprint, and refused a second time")
    func enrolAndList() throws {
        let (scratch, app, accounts, enrolled) = try enrolled()
        let added = try accounts.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "yubikey", code: app.code(steps: 1)))
        #expect(added.id == "key-1")
        let key = try #require(try accounts.status().securityKeys.first)
        #expect(key.fingerprint == Self.touchFingerprint)
        #expect(key.type == "sk-ssh-ed25519@openssh.com")
        #expect(key.label == "yubikey")
        #expect(key.lastUsed == nil)
        let path = scratch.dir + "/root"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("sshkey id=key-1 type=sk-ssh-ed25519@openssh.com"))
        // The same key again: a usage error naming the id and fingerprint;
        // nothing written, so the backup code that authorised it is not spent.
        #expect(throws: AccountError.usage("the key \(Self.touchFingerprint) is enrolled already, as 'key-1'")) {
            try accounts.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "again", code: enrolled.backupCodes[0]))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        #expect(try accounts.verify(VerifyRequest(code: enrolled.backupCodes[0])).backupCodesLeft == 1)
    }

    @Test("a plain key, a malformed one, a wrong code and a record without backup write nothing")
    func refusalsWriteNothing() throws {
        let (scratch, app, accounts, _) = try enrolled(backupCodes: 1)
        let path = scratch.dir + "/root"
        let before = try String(contentsOfFile: path, encoding: .utf8)
        #expect(throws: AccountError.usage("the key: 'ssh-ed25519' is not a security key type (only sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com are)")) {
            try accounts.addSecurityKey(AddSecurityKeyRequest(key: Self.plain, label: "plain", code: app.code(steps: 1)))
        }
        #expect(throws: AccountError.self) {
            try accounts.addSecurityKey(AddSecurityKeyRequest(key: "sk-ssh-ed25519@openssh.com AAAA", label: "bad", code: app.code(steps: 1)))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
        let wrong = app.code(steps: 1) == "123456" ? "654321" : "123456"
        #expect(throws: AccountError.self) {
            try accounts.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "k", code: wrong))
        }
        #expect(try accounts.status().securityKeys.isEmpty)
        // The last backup code spent: no backup method, no key.
        let other = Scratch()
        let backupFree = try service(other, account: owner)
        let spent = try backupFree.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 1))
        _ = try backupFree.verify(VerifyRequest(code: spent.backupCodes[0]))
        #expect(throws: AccountError.usage(MethodRules.Violation.keyNeedsBackupMethod.description)) {
            try backupFree.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "k", code: app.code(steps: 1)))
        }
    }

    @Test("security_key_enrol=root refuses an ordinary user and lets root with --user enrol without a code")
    func enrolmentByRootOnly() throws {
        let scratch = Scratch()
        let app = try App()
        let asUser = try service(scratch, account: user, enrol: .root)
        _ = try asUser.enroll(EnrollRequest(key: app.key, code: app.code(), backupCodes: 2))
        #expect(throws: AccountError.usage(MethodRules.Violation.keyEnrolmentByRootOnly.description)) {
            try asUser.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "k", code: app.code(steps: 1)))
        }
        #expect(try asUser.status().securityKeys.isEmpty)
        let asRoot = try service(scratch, account: user, administrator: true, enrol: .root)
        #expect(try asRoot.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "k", code: nil)).id == "key-1")
        // A key can be removed; then the app is the only method again.
        _ = try asRoot.remove(RemoveRequest(id: "key-1", code: nil))
        #expect(try asRoot.status().securityKeys.isEmpty)
    }

    @Test("a status from a twostepd older than security keys (no securityKeys) reads as none")
    func statusWithoutKeys() throws {
        let (scratch, app, accounts, _) = try enrolled()
        defer { withExtendedLifetime(scratch) {} }
        _ = try accounts.addSecurityKey(AddSecurityKeyRequest(key: Self.touch, label: "k", code: app.code(steps: 1)))
        let status = try accounts.status()
        let data = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(AccountStatus.self, from: data) == status)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object.removeValue(forKey: "securityKeys") != nil)
        let old = try JSONDecoder().decode(AccountStatus.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(old.securityKeys.isEmpty && old.authenticators == status.authenticators)
    }
}
