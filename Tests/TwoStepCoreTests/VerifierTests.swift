import Testing
import TwoStepCore

@Suite("Verifier: the pure decision")
struct VerifierTests {
    /// 15 s into time step 58,807,360 (period 30).
    static let now: Int64 = 1_764_220_815
    static let step = OTP.timeStep(at: now, period: 30)

    static let authenticator = makeAuthenticator()
    static let file = FactorFile(factors: [authenticator])

    static func acceptance(_ result: Verifier.Result, sourceLocation: SourceLocation = #_sourceLocation) -> Acceptance? {
        guard case .accepted(let a) = result.decision else {
            Issue.record("not accepted: \(result.decision)", sourceLocation: sourceLocation)
            return nil
        }
        return a
    }

    static func refusal(_ result: Verifier.Result, sourceLocation: SourceLocation = #_sourceLocation) -> Refusal? {
        guard case .refused(let r) = result.decision else {
            Issue.record("not refused: \(result.decision)", sourceLocation: sourceLocation)
            return nil
        }
        return r
    }

    @Test("the current code is accepted and its step recorded")
    func acceptsCurrentCode() throws {
        let result = Verifier().verify(code(Self.authenticator, at: Self.now), in: Self.file, at: Self.now)
        let a = try #require(Self.acceptance(result))
        #expect(a.kind == .authenticator)
        #expect(a.factorID == "totp-1")
        #expect(a.backupCodesLeft == nil)
        #expect(result.changed)
        #expect(result.file.authenticators.first?.lastStep == Self.step)
        #expect(result.file.failures.isClear)
        // The new state survives the file's text form.
        #expect(try FactorFile(parsing: result.file.text).authenticators.first?.lastStep == Self.step)
    }

    @Test("spaces in the answer are ignored")
    func spacesInCode() throws {
        let c = code(Self.authenticator, at: Self.now)
        let spaced = String(c.prefix(3)) + " " + String(c.suffix(3))
        _ = try #require(Self.acceptance(Verifier().verify(spaced, in: Self.file, at: Self.now)))
    }

    @Test("the same code again is refused as a replay")
    func replay() throws {
        let verifier = Verifier()
        let c = code(Self.authenticator, at: Self.now)
        let first = verifier.verify(c, in: Self.file, at: Self.now)
        _ = try #require(Self.acceptance(first))
        let second = verifier.verify(c, in: first.file, at: Self.now + 5)
        let r = try #require(Self.refusal(second))
        #expect(r.replay)
        #expect(r.failures == 1)
        #expect(r.lockedUntil == nil)
        #expect(second.changed)
        #expect(second.file.failures.count == 1)
        #expect(second.file.authenticators.first?.lastStep == Self.step)
    }

    @Test("codes of the previous and next step pass with window 1, not window 0", arguments: [Int64(-1), 1])
    func neighbouringSteps(offset: Int64) throws {
        let c = code(Self.authenticator, at: Self.now, offset: offset)
        let wide = Verifier(policy: VerificationPolicy(window: 1, maxFailures: 5, lockoutSeconds: 300)).verify(c, in: Self.file, at: Self.now)
        _ = try #require(Self.acceptance(wide))
        #expect(wide.file.authenticators.first?.lastStep == UInt64(Int64(Self.step) + offset))
        let narrow = Verifier(policy: VerificationPolicy(window: 0, maxFailures: 5, lockoutSeconds: 300)).verify(c, in: Self.file, at: Self.now)
        let r = try #require(Self.refusal(narrow))
        #expect(!r.replay)
        #expect(r.failures == 1)
    }

    @Test("codes from outside the window are refused", arguments: [Int64(-3), -2, 2, 3])
    func outsideWindow(offset: Int64) throws {
        let c = code(Self.authenticator, at: Self.now, offset: offset)
        try #require(!(-1...1).contains { code(Self.authenticator, at: Self.now, offset: $0) == c })
        let r = try #require(Self.refusal(Verifier().verify(c, in: Self.file, at: Self.now)))
        #expect(!r.replay)
        // A wider window takes it.
        let wide = Verifier(policy: VerificationPolicy(window: 3, maxFailures: 5, lockoutSeconds: 300))
        _ = try #require(Self.acceptance(wide.verify(c, in: Self.file, at: Self.now)))
    }

    @Test("after a later step was accepted, a code of an earlier step is a replay")
    func earlierAfterLater() throws {
        let verifier = Verifier()
        let later = verifier.verify(code(Self.authenticator, at: Self.now, offset: 1), in: Self.file, at: Self.now)
        _ = try #require(Self.acceptance(later))
        #expect(later.file.authenticators.first?.lastStep == Self.step + 1)
        for offset: Int64 in [0, -1] {
            let earlier = verifier.verify(code(Self.authenticator, at: Self.now, offset: offset), in: later.file, at: Self.now)
            let r = try #require(Self.refusal(earlier))
            #expect(r.replay, "offset \(offset)")
        }
        // A lastStep recorded in the file is honoured the same way.
        let stored = FactorFile(factors: [makeAuthenticator(lastStep: Self.step)])
        let r = try #require(Self.refusal(verifier.verify(code(Self.authenticator, at: Self.now), in: stored, at: Self.now)))
        #expect(r.replay)
        _ = try #require(Self.acceptance(verifier.verify(code(Self.authenticator, at: Self.now, offset: 1), in: stored, at: Self.now)))
    }

    @Test("wrong and malformed codes count up")
    func wrongCodesCount() throws {
        let verifier = Verifier()
        var file = Self.file
        let answers = [wrongCode(for: [Self.authenticator], at: Self.now), "", "abcdef", "12345", "1234567", "??"]
        for (i, answer) in answers.prefix(4).enumerated() {
            let result = verifier.verify(answer, in: file, at: Self.now + Int64(i))
            let r = try #require(Self.refusal(result), "answer '\(answer)'")
            #expect(!r.replay)
            #expect(r.failures == i + 1)
            #expect(r.lockedUntil == nil)
            #expect(result.changed)
            #expect(result.file.failures.count == i + 1)
            #expect(result.file.failures.last == Self.now + Int64(i))
            #expect(result.file.failures.lockedUntil == nil)
            #expect(result.file.authenticators.first?.lastStep == nil)
            file = result.file
        }
    }

    @Test("an accepted code clears the failure count")
    func acceptClearsFailures() throws {
        var file = Self.file
        file.failures = FailureState(count: 3, last: Self.now - 10)
        let result = Verifier().verify(code(Self.authenticator, at: Self.now), in: file, at: Self.now)
        _ = try #require(Self.acceptance(result))
        #expect(result.file.failures.isClear)
        #expect(result.file.text.contains("failures count=0000 locked-until=0000000000 last=0000000000 accepted=\(Self.now)\n"))
    }

    @Test("the maxFailures-th wrong code starts a lock-out; during it nothing is checked; after it a fresh start")
    func lockout() throws {
        let verifier = Verifier(policy: VerificationPolicy(window: 1, maxFailures: 3, lockoutSeconds: 300))
        let wrong = wrongCode(for: [Self.authenticator], at: Self.now, reach: 30)
        var file = Self.file
        for i in 0..<2 {
            let r = try #require(Self.refusal(verifier.verify(wrong, in: file, at: Self.now + Int64(i))))
            #expect(r.lockedUntil == nil)
            file = verifier.verify(wrong, in: file, at: Self.now + Int64(i)).file
        }
        let third = verifier.verify(wrong, in: file, at: Self.now + 2)
        let r = try #require(Self.refusal(third))
        #expect(r.failures == 3)
        #expect(r.lockedUntil == Self.now + 2 + 300)
        #expect(third.file.failures.lockedUntil == Self.now + 2 + 300)
        #expect(verifier.lockout(in: third.file, at: Self.now + 2) == Self.now + 302)
        let locked = try FactorFile(parsing: third.file.text)  // the lock lives in the file
        #expect(locked.failures.lockedUntil == Self.now + 302)

        // During the lock-out even the right code is not checked and nothing changes.
        for t in [Self.now + 3, Self.now + 150, Self.now + 301] {
            let result = verifier.verify(code(Self.authenticator, at: t), in: locked, at: t)
            #expect(result.decision == .lockedOut(until: Self.now + 302))
            #expect(!result.changed)
            #expect(result.file.text == locked.text)
        }

        // Once it has run out, the right code is accepted and the failures are gone.
        let until = Self.now + 302
        #expect(verifier.lockout(in: locked, at: until) == nil)
        let after = verifier.verify(code(Self.authenticator, at: until), in: locked, at: until)
        _ = try #require(Self.acceptance(after))
        #expect(after.file.failures.isClear)

        // …and a wrong code after it starts counting from one again.
        let wrongAfter = verifier.verify(wrongCode(for: [Self.authenticator], at: until + 40), in: locked, at: until + 40)
        let r2 = try #require(Self.refusal(wrongAfter))
        #expect(r2.failures == 1)
        #expect(r2.lockedUntil == nil)
        #expect(wrongAfter.file.failures.lockedUntil == nil)
    }

    @Test("replays count towards the lock-out")
    func replaysCount() throws {
        let verifier = Verifier(policy: VerificationPolicy(window: 1, maxFailures: 2, lockoutSeconds: 60))
        let c = code(Self.authenticator, at: Self.now)
        var file = verifier.verify(c, in: Self.file, at: Self.now).file
        file = verifier.verify(c, in: file, at: Self.now + 1).file
        let r = try #require(Self.refusal(verifier.verify(c, in: file, at: Self.now + 2)))
        #expect(r.replay)
        #expect(r.lockedUntil == Self.now + 62)
    }

    @Test("with two authenticators a code from either is accepted, and only that one is updated")
    func twoAuthenticators() throws {
        let phone = makeAuthenticator(id: "totp-1", secret: try randomBytes(20), label: "Phone")
        let tablet = makeAuthenticator(id: "totp-2", secret: try randomBytes(32),
                                       parameters: try OTPParameters(algorithm: .sha256, digits: 6, period: 60), label: "Tablet")
        let file = FactorFile(factors: [phone, tablet])
        let verifier = Verifier()

        let viaPhone = verifier.verify(code(phone, at: Self.now), in: file, at: Self.now)
        #expect(try #require(Self.acceptance(viaPhone)).factorID == "totp-1")
        #expect(viaPhone.file.authenticators.map(\.lastStep) == [OTP.timeStep(at: Self.now, period: 30), nil])

        let viaTablet = verifier.verify(code(tablet, at: Self.now), in: viaPhone.file, at: Self.now)
        #expect(try #require(Self.acceptance(viaTablet)).factorID == "totp-2")
        #expect(viaTablet.file.authenticators.map(\.lastStep)
            == [OTP.timeStep(at: Self.now, period: 30), OTP.timeStep(at: Self.now, period: 60)])

        let r = try #require(Self.refusal(verifier.verify(wrongCode(for: [phone, tablet], at: Self.now), in: file, at: Self.now)))
        #expect(r.failures == 1)
    }

    @Test("a backup code is accepted, counted down and removed from the file")
    func backupCode() throws {
        var factors: [any Factor] = [Self.authenticator]
        var codes = [String]()
        for i in 1...4 {
            let (c, factor) = try BackupCode.generate(id: "backup-\(i)", created: 0)
            codes.append(c)
            factors.append(factor)
        }
        let file = FactorFile(factors: factors)
        let result = Verifier().verify(codes[0].uppercased(), in: file, at: Self.now)
        let a = try #require(Self.acceptance(result))
        #expect(a.kind == .backupCode)
        #expect(a.factorID == "backup-1")
        #expect(a.backupCodesLeft == 3)
        #expect(result.file.backupCodes.map(\.id) == ["backup-2", "backup-3", "backup-4"])
        #expect(!result.file.text.contains("backup-1"))
        #expect(result.file.authenticators == [Self.authenticator])
        let next = Verifier().verify(codes[3], in: result.file, at: Self.now)
        #expect(try #require(Self.acceptance(next)).backupCodesLeft == 2)
        _ = try #require(Self.refusal(Verifier().verify(codes[0], in: next.file, at: Self.now)))
    }

    @Test("a file without factors refuses everything")
    func noFactors() throws {
        let r = try #require(Self.refusal(Verifier().verify("123456", in: FactorFile(), at: Self.now)))
        #expect(r.failures == 1)
        #expect(!r.replay)
    }
}
