import Testing
import TwoStepCore

@Suite("BackupCode")
struct BackupCodeTests {
    static let context = VerificationContext(now: 1_764_220_800, window: 1)

    static func accepts(_ factor: BackupCode, _ answer: String) -> Bool {
        if case .accepted(let replacement) = factor.check(answer, context: context) {
            #expect(replacement == nil, "a used backup code must be spent")
            return true
        }
        return false
    }

    /// A stored code for `text` with `salt`, hashed as the docs say:
    /// HMAC-SHA256 keyed with the salt over the normalized code.
    static func stored(_ text: String, salt: [UInt8], id: String = "backup-1") -> BackupCode {
        let hash = HMAC.authenticate(.sha256, key: SecretBytes(salt), message: Array(text.utf8))
        return BackupCode(id: id, salt: salt, hash: hash, created: 1_764_220_800)
    }

    @Test("generated codes look like k7m2-x9qp-4r and use the whole alphabet")
    func generatedFormat() throws {
        let group = "[23456789abcdefghjkmnpqrstuvwxyz]"
        let pattern = try Regex("^\(group){4}-\(group){4}-\(group){2}$")
        var codes = Set<String>()
        var seen = Set<Character>()
        for i in 1...120 {
            let (code, factor) = try BackupCode.generate(id: "backup-\(i)", created: 1_764_220_800)
            #expect(code.wholeMatch(of: pattern) != nil, "\(code)")
            #expect(factor.id == "backup-\(i)")
            #expect(factor.created == 1_764_220_800)
            #expect(factor.salt.count == 16)
            #expect(factor.hash.count == 32)
            codes.insert(code)
            seen.formUnion(code.filter { $0 != "-" })
        }
        #expect(codes.count == 120)
        // 1,200 draws from 31 letters: every letter turns up (a miss has odds below 1e-12).
        #expect(seen == Set("23456789abcdefghjkmnpqrstuvwxyz"))
    }

    @Test("the stored hash is HMAC-SHA256(salt, code), never the code")
    func storedHash() throws {
        let (code, factor) = try BackupCode.generate(id: "backup-1", created: 0)
        let plain = try #require(BackupCode.normalize(code))
        #expect(factor.hash == HMAC.authenticate(.sha256, key: SecretBytes(factor.salt), message: plain))
        var record = FactorLine(keyword: BackupCode.keyword)
        factor.write(to: &record)
        #expect(!record.text.contains(String(decoding: plain, as: UTF8.self)))
    }

    @Test("format groups by four")
    func format() {
        #expect(BackupCode.format("k7m2x9qp4r") == "k7m2-x9qp-4r")
        #expect(BackupCode.format("abcd") == "abcd")
        #expect(BackupCode.format("") == "")
    }

    @Test("normalize accepts upper case, spaces and dashes", arguments: [
        "k7m2-x9qp-4r", "k7m2x9qp4r", "K7M2-X9QP-4R", "k7m2 x9qp 4r", " K7m2--x9Qp 4r ", "k-7-m-2-x-9-q-p-4-r",
    ])
    func normalizeAccepts(answer: String) {
        #expect(BackupCode.normalize(answer) == Array("k7m2x9qp4r".utf8))
    }

    @Test("normalize rejects look-alikes, wrong lengths and other characters", arguments: [
        "", "k7m2-x9qp-4", "k7m2-x9qp-4rr", "k7m2-x9qp-40", "k7m2-x9qp-41", "k7m2-x9qp-4l", "k7m2-x9qp-4i", "k7m2-x9qp-4o",
        "k7m2_x9qp_4r", "k7m2.x9qp.4r", "k7m2-x9qp-4é", "k7m2\tx9qp4r",
    ])
    func normalizeRejects(answer: String) {
        #expect(BackupCode.normalize(answer) == nil)
    }

    @Test("check accepts the right code in any typing, and spends it")
    func checkAccepts() throws {
        let (code, factor) = try BackupCode.generate(id: "backup-1", created: 0)
        #expect(Self.accepts(factor, code))
        #expect(Self.accepts(factor, code.uppercased()))
        #expect(Self.accepts(factor, code.replacing("-", with: " ")))
        #expect(Self.accepts(factor, code.replacing("-", with: "")))
    }

    @Test("check refuses a wrong or malformed code")
    func checkRefuses() throws {
        let factor = Self.stored("k7m2x9qp4r", salt: try randomBytes(16))
        #expect(Self.accepts(factor, "k7m2-x9qp-4r"))
        for wrong in ["k7m2-x9qp-4s", "s7m2-x9qp-4r", "k7m2-x9qp", "", "k7m2-x9qp-4r-2", "123456", "k7m2x9qp4r0"] {
            #expect(!Self.accepts(factor, wrong), "\(wrong)")
        }
    }

    @Test("the hash is salted: the same code stored twice gives two different hashes")
    func salted() throws {
        let a = Self.stored("k7m2x9qp4r", salt: try randomBytes(16), id: "backup-1")
        let b = Self.stored("k7m2x9qp4r", salt: try randomBytes(16), id: "backup-2")
        #expect(a.salt != b.salt)
        #expect(a.hash != b.hash)
        #expect(Self.accepts(a, "k7m2-x9qp-4r"))
        #expect(Self.accepts(b, "k7m2-x9qp-4r"))
        // Each hash belongs to its own salt.
        let swapped = BackupCode(id: "backup-3", salt: a.salt, hash: b.hash, created: 0)
        #expect(!Self.accepts(swapped, "k7m2-x9qp-4r"))
        // Two generated codes never share a salt.
        let (_, g1) = try BackupCode.generate(id: "backup-4", created: 0)
        let (_, g2) = try BackupCode.generate(id: "backup-5", created: 0)
        #expect(g1.salt != g2.salt)
    }

    @Test("a backup code is accepted once through the verifier, then refused")
    func spentAfterUse() throws {
        var factors: [any Factor] = [makeAuthenticator()]
        var codes = [String]()
        for i in 1...3 {
            let (code, factor) = try BackupCode.generate(id: "backup-\(i)", created: 0)
            codes.append(code)
            factors.append(factor)
        }
        let file = FactorFile(factors: factors)
        let verifier = Verifier()
        let first = verifier.verify(codes[1], in: file, at: Self.context.now)
        guard case .accepted(let acceptance) = first.decision else {
            Issue.record("refused: \(first.decision)")
            return
        }
        #expect(acceptance.kind == .backupCode)
        #expect(acceptance.factorID == "backup-2")
        #expect(acceptance.backupCodesLeft == 2)
        #expect(first.changed)
        #expect(first.file.backupCodes.map(\.id) == ["backup-1", "backup-3"])
        #expect(first.file.authenticators.count == 1)

        let second = verifier.verify(codes[1], in: first.file, at: Self.context.now + 1)
        guard case .refused(let refusal) = second.decision else {
            Issue.record("a spent backup code was accepted again")
            return
        }
        #expect(refusal.failures == 1)
        #expect(second.file.backupCodes.count == 2)

        // The others still work.
        let third = verifier.verify(codes[2], in: second.file, at: Self.context.now + 2)
        guard case .accepted(let a3) = third.decision else {
            Issue.record("refused another unused code")
            return
        }
        #expect(a3.backupCodesLeft == 1)
        #expect(third.file.failures.isClear)
    }
}
