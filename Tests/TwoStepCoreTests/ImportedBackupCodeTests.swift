import Testing
import TwoStepCore

/// Backup codes imported from google-authenticator: 8-digit scratch codes,
/// stored hashed like generated codes (`twostep import google-authenticator`).
@Suite("BackupCode, imported 8-digit scratch codes")
struct ImportedBackupCodeTests {
    static let now: Int64 = 1_764_220_800

    static func accepts(_ factor: BackupCode, _ answer: String) -> Bool {
        if case .accepted(let replacement) = factor.check(answer, context: VerificationContext(now: now, window: 1)) {
            #expect(replacement == nil, "a used backup code must be spent")
            return true
        }
        return false
    }

    @Test("normalize accepts exactly 8 digits, with spaces and dashes", arguments: [
        "77094790", "7709 4790", "7709-4790", " 77094790 ",
    ])
    func normalizeAccepts(answer: String) {
        #expect(BackupCode.normalize(answer) == Array("77094790".utf8))
    }

    @Test("normalize rejects 7, 9 or 10 digits and digits mixed with letters", arguments: [
        "7709479", "770947901", "7709479012", "7709479a", "٧٧٠٩٤٧٩٠", "77094790\n",
    ])
    func normalizeRejects(answer: String) {
        #expect(BackupCode.normalize(answer) == nil)
    }

    @Test("an imported code is stored as HMAC-SHA256(salt, digits) with a fresh salt, never in clear")
    func storedHashed() throws {
        let a = try BackupCode.importing("77094790", id: "backup-1", created: Self.now)
        let b = try BackupCode.importing("77094790", id: "backup-2", created: Self.now)
        #expect(a.salt.count == 16 && a.hash.count == 32)
        #expect(a.salt != b.salt && a.hash != b.hash)
        #expect(a.hash == HMAC.authenticate(.sha256, key: SecretBytes(a.salt), message: Array("77094790".utf8)))
        var record = FactorLine(keyword: BackupCode.keyword)
        a.write(to: &record)
        #expect(!record.text.contains("77094790"))
        // It survives the file format like any backup code.
        let text = FactorFile(factors: [makeAuthenticator(), a]).text
        let parsed = try FactorFile(parsing: text)
        #expect(parsed.backupCodes == [a])
    }

    @Test("importing refuses what is not a code")
    func importingRefuses() {
        for bad in ["", "1234567", "123456789", "abcdefgh", "12345678x"] {
            #expect(thrownError { () throws(TwoStepError) in try BackupCode.importing(bad, id: "backup-1", created: 0) } != nil, "\(bad)")
        }
    }

    @Test("an imported code is accepted once through the verifier, then refused")
    func spentOnce() throws {
        let file = FactorFile(factors: [
            makeAuthenticator(),
            try BackupCode.importing("77094790", id: "backup-1", created: Self.now),
            try BackupCode.importing("85823220", id: "backup-2", created: Self.now),
        ])
        let verifier = Verifier()
        let first = verifier.verify("7709 4790", in: file, at: Self.now)
        guard case .accepted(let acceptance) = first.decision else {
            Issue.record("refused: \(first.decision)")
            return
        }
        #expect(acceptance.factorID == "backup-1")
        #expect(acceptance.backupCodesLeft == 1)
        let again = verifier.verify("77094790", in: first.file, at: Self.now + 1)
        guard case .refused = again.decision else {
            Issue.record("a spent imported code was accepted again")
            return
        }
        let other = verifier.verify("85823220", in: again.file, at: Self.now + 2)
        guard case .accepted = other.decision else {
            Issue.record("the other imported code was refused")
            return
        }
    }

    @Test("an imported code refuses neighbours and a generated code refuses 8 digits")
    func noCrossMatch() throws {
        let imported = try BackupCode.importing("77094790", id: "backup-1", created: Self.now)
        for wrong in ["77094791", "07709479", "7709479", "770947900", "k7m2-x9qp-4r"] {
            #expect(!Self.accepts(imported, wrong), "\(wrong)")
        }
        let (code, generated) = try BackupCode.generate(id: "backup-2", created: Self.now)
        #expect(Self.accepts(generated, code))
        #expect(!Self.accepts(generated, "77094790"))
    }
}
