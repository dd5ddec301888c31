import Testing
@testable import TwoStepCore

/// Which methods a file must keep (SPEC §4, §11): a security key is an
/// additional method, never the only one.
@Suite("MethodRules: adding keys, removing methods")
struct MethodRulesTests {
    static let now: Int64 = 1_764_300_000

    static func totp(_ n: Int = 1) -> TOTPAuthenticator { makeAuthenticator(id: "totp-\(n)") }
    static func backup(_ n: Int = 1) -> BackupCode {
        BackupCode(id: "backup-\(n)", salt: Array(repeating: UInt8(n), count: 16), hash: Array(repeating: 2, count: 32), created: 5)
    }
    static func phone(_ n: Int = 1) throws -> Phone {
        Phone(id: "phone-\(n)", number: try PhoneNumber(parsing: "+96650123453\(n)"), channel: .sms, label: "Mobile", created: 5)
    }
    static func key(_ n: Int = 1, _ fixture: KeyFixture = SKFixtures.ed25519Touch) throws -> SecurityKey {
        SecurityKey(id: "key-\(n)", key: try fixture.key(), label: fixture.comment, created: 6)
    }
    static func pending() -> PendingCode {
        PendingCode(id: "pending-1", phoneID: "phone-1", salt: Array(repeating: 3, count: 16), hash: Array(repeating: 4, count: 32),
                    created: 7, expires: 307)
    }

    /// The violation `body` threw, nil when it returned.
    static func violation(_ body: () throws(MethodRules.Violation) -> Void) -> MethodRules.Violation? {
        do throws(MethodRules.Violation) {
            try body()
            return nil
        } catch {
            return error
        }
    }

    static func adding(_ fixture: KeyFixture, to factors: [any Factor], label: String = "YubiKey") throws -> MethodRules.Violation? {
        var file = FactorFile(factors: factors)
        let key = try fixture.key()
        return violation { () throws(MethodRules.Violation) in try file.addSecurityKey(key, label: label, at: now) }
    }

    static func removing(_ id: String, from factors: [any Factor]) -> MethodRules.Violation? {
        violation { () throws(MethodRules.Violation) in try MethodRules.checkRemoval(of: id, from: FactorFile(factors: factors)) }
    }

    // MARK: Adding a key

    @Test("a key is added next to an app or a phone and a backup method, as the next key-N")
    func addsKey() throws {
        var file = FactorFile(factors: [Self.totp(), Self.backup()])
        let added = try file.addSecurityKey(try SKFixtures.ed25519VerifyRequired.key(), label: "YubiKey 5", at: Self.now)
        #expect(added.id == "key-1" && added.label == "YubiKey 5" && added.created == Self.now && added.lastUsed == nil)
        #expect(file.securityKeys == [added])
        let second = try file.addSecurityKey(try SKFixtures.ecdsaTouch.key(), label: "spare", at: Self.now + 1)
        #expect(second.id == "key-2")
        #expect(try FactorFile(parsing: file.text).securityKeys.map(\.id) == ["key-1", "key-2"])
    }

    @Test("which files may take a key")
    func whichFilesTakeAKey() throws {
        let ok: [[any Factor]] = [
            [Self.totp(), Self.backup()],
            [Self.totp(), try Self.phone()],  // the phone is the backup
            [try Self.phone(), Self.backup()],
            [try Self.phone(1), try Self.phone(2)],
        ]
        for factors in ok {
            #expect(try Self.adding(SKFixtures.ed25519Touch, to: factors) == nil, "\(factors.map(\.id))")
        }
        let refused: [([any Factor], MethodRules.Violation)] = [
            ([], .keyNeedsCodeMethod),
            ([Self.backup()], .keyNeedsCodeMethod),
            ([try Self.key(1, SKFixtures.ecdsaTouch), Self.backup()], .keyNeedsCodeMethod),
            ([Self.totp()], .keyNeedsBackupMethod),
            ([Self.totp(1), Self.totp(2)], .keyNeedsBackupMethod),
            ([try Self.phone()], .keyNeedsBackupMethod),  // a phone alone is not its own backup
            ([try Self.phone(), Self.pending()], .keyNeedsBackupMethod),
            ([Self.totp(), try Self.key(1, SKFixtures.ecdsaTouch)], .keyNeedsBackupMethod),
        ]
        for (factors, expected) in refused {
            #expect(try Self.adding(SKFixtures.ed25519Touch, to: factors) == expected, "\(factors.map(\.id))")
        }
    }

    @Test("the same key twice is refused by its whole blob, naming the enrolled one")
    func duplicate() throws {
        let factors: [any Factor] = [Self.totp(), Self.backup(), try Self.key(1, SKFixtures.ecdsaTouch), try Self.key(2, SKFixtures.ed25519Touch)]
        #expect(try Self.adding(SKFixtures.ed25519Touch, to: factors)
            == .keyAlreadyEnrolled(id: "key-2", fingerprint: SKFixtures.ed25519Touch.fingerprint))
        // The same key from an authorized_keys line, with options and a comment: still the same key.
        var file = FactorFile(factors: factors)
        let fromLine = try SSHPublicKey(authorizedKeysLine: "verify-required " + SKFixtures.ecdsaTouch.line)
        #expect(Self.violation { () throws(MethodRules.Violation) in try file.addSecurityKey(fromLine, label: "x", at: Self.now) }
            == .keyAlreadyEnrolled(id: "key-1", fingerprint: SKFixtures.ecdsaTouch.fingerprint))
        #expect(file.securityKeys.count == 2, "nothing was added")
        // Another key of the same type is not the same key.
        #expect(try Self.adding(SKFixtures.ed25519NoTouch, to: factors) == nil)
    }

    @Test("the label follows the rule for labels")
    func label() throws {
        for bad in ["", String(repeating: "x", count: 65), "a\u{7}b", "evil\u{202E}txt"] {
            guard case .invalidLabel? = try Self.adding(SKFixtures.ed25519Touch, to: [Self.totp(), Self.backup()], label: bad) else {
                Issue.record("label \(bad.debugDescription) was taken")
                continue
            }
        }
        #expect(try Self.adding(SKFixtures.ed25519Touch, to: [Self.totp(), Self.backup()], label: "Clé de Zoë") == nil)
    }

    @Test("security_key_enrol: users, or root only")
    func whoEnrols() {
        #expect(SystemConfiguration.SecurityKeyEnrol.user.allows(administrator: false))
        #expect(SystemConfiguration.SecurityKeyEnrol.root.allows(administrator: true))
        #expect(!SystemConfiguration.SecurityKeyEnrol.root.allows(administrator: false))
        #expect(Self.violation { () throws(MethodRules.Violation) in try MethodRules.checkKeyEnrolment(by: false, policy: .root) }
            == .keyEnrolmentByRootOnly)
        #expect(Self.violation { () throws(MethodRules.Violation) in try MethodRules.checkKeyEnrolment(by: true, policy: .root) } == nil)
        #expect(Self.violation { () throws(MethodRules.Violation) in try MethodRules.checkKeyEnrolment(by: false, policy: .user) } == nil)
    }

    // MARK: Removing

    @Test("without keys, the rules are those twostep remove always had")
    func removalWithoutKeys() throws {
        let base: [any Factor] = [Self.totp(), Self.backup(), try Self.phone(), Self.pending()]
        #expect(Self.removing("totp-1", from: base) == nil)
        #expect(Self.removing("phone-1", from: base) == nil)
        #expect(Self.removing("backup-1", from: base) == .backupCode(id: "backup-1"))
        #expect(Self.removing("pending-1", from: base) == .notAMethod(id: "pending-1"))
        #expect(Self.removing("trust-1", from: base) == .noSuchMethod(id: "trust-1"))
        #expect(Self.removing("totp-1", from: [Self.totp(), Self.backup()]) == .lastCodeMethod(id: "totp-1"))
        #expect(Self.removing("phone-1", from: [try Self.phone(), Self.backup()]) == .lastCodeMethod(id: "phone-1"))
        // A file without backup codes and keys: a phone may go, as before.
        #expect(Self.removing("phone-1", from: [Self.totp(), try Self.phone()]) == nil)
    }

    @Test("a key is never what keeps the last authenticator or phone removable")
    func keyIsNoCodeMethod() throws {
        let factors: [any Factor] = [Self.totp(), Self.backup(), try Self.key()]
        #expect(Self.removing("totp-1", from: factors) == .lastCodeMethod(id: "totp-1"))
        #expect(!MethodRules.hasCodeMethod(FactorFile(factors: [try Self.key(), Self.backup()])))
    }

    @Test("while keys remain, the last backup method stays")
    func lastBackupMethodWithKeys() throws {
        // The phone is the only backup (no codes): neither it nor the app may go.
        let phoneBackup: [any Factor] = [Self.totp(), try Self.phone(), try Self.key()]
        #expect(Self.removing("phone-1", from: phoneBackup) == .lastBackupMethod(id: "phone-1"))
        #expect(Self.removing("totp-1", from: phoneBackup) == .lastBackupMethod(id: "totp-1"))
        // Without the key, the phone may go (the old rule).
        #expect(Self.removing("phone-1", from: [Self.totp(), try Self.phone()]) == nil)
        // With backup codes, either may go as long as one code method stays.
        let withCodes: [any Factor] = [Self.totp(), try Self.phone(), Self.backup(), try Self.key()]
        #expect(Self.removing("phone-1", from: withCodes) == nil)
        #expect(Self.removing("totp-1", from: withCodes) == nil)
        // Two phones and a key: one phone may go only if the other still has a backup.
        let twoPhones: [any Factor] = [try Self.phone(1), try Self.phone(2), try Self.key()]
        #expect(Self.removing("phone-1", from: twoPhones) == .lastBackupMethod(id: "phone-1"))
        // A file whose codes were all spent already has no backup: removing one of two apps takes nothing more away.
        let spent: [any Factor] = [Self.totp(1), Self.totp(2), try Self.key()]
        #expect(Self.removing("totp-2", from: spent) == nil)
    }

    @Test("a key can always be removed, the last one included")
    func removingKeys() throws {
        let factors: [any Factor] = [Self.totp(), try Self.phone(), try Self.key(1), try Self.key(2, SKFixtures.ecdsaTouch)]
        #expect(Self.removing("key-1", from: factors) == nil)
        #expect(Self.removing("key-2", from: [Self.totp(), try Self.key(2)]) == nil)
        var file = FactorFile(factors: factors)
        file.removeFactor(id: "key-1")
        #expect(file.securityKeys.map(\.id) == ["key-2"])
    }

    @Test("messages name the id and say what to do")
    func messages() {
        #expect(MethodRules.Violation.lastBackupMethod(id: "phone-1").description.hasPrefix("without 'phone-1' you would have no backup method"))
        #expect(MethodRules.Violation.lastCodeMethod(id: "totp-1").description.contains("'twostep disable'"))
        #expect(MethodRules.Violation.keyNeedsBackupMethod.description.contains("'twostep codes'"))
        #expect(MethodRules.Violation.keyAlreadyEnrolled(id: "key-1", fingerprint: "SHA256:x").description
            == "the key SHA256:x is enrolled already, as 'key-1'")
    }
}
