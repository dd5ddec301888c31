import Testing
import TwoStepCore

/// The time of the last accepted code: `accepted=` on the `failures` line
/// (twostep-factors(5)), set by the Verifier for every kind of code.
@Suite("Last accepted code: the failures line's accepted= field")
struct LastAcceptedTests {
    /// 15 s into time step 58,807,360 (period 30).
    static let now: Int64 = 1_764_220_815
    static let authenticator = makeAuthenticator()

    static func backup(_ text: String, id: String) -> BackupCode {
        let salt = Array(repeating: UInt8(id.utf8.count), count: 16)
        return BackupCode(id: id, salt: salt, hash: HMAC.authenticate(.sha256, key: SecretBytes(salt), message: Array(text.utf8)),
                          created: 1_764_220_800)
    }

    /// The failures line of `file`'s text.
    static func failuresLine(_ file: FactorFile) -> Substring {
        file.text.split(separator: "\n").first { $0.hasPrefix("failures ") } ?? ""
    }

    /// The first and last differing byte of two texts of one length.
    static func differences(_ a: String, _ b: String) -> ClosedRange<Int>? {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, let first = x.indices.first(where: { x[$0] != y[$0] }),
              let last = x.indices.last(where: { x[$0] != y[$0] }) else { return nil }
        return first...last
    }

    // MARK: Parse and write

    @Test("written last, 10 digits zero-padded, 0 for none; parsed back")
    func written() throws {
        let none = FactorFile(factors: [Self.authenticator])
        #expect(Self.failuresLine(none) == "failures count=0000 locked-until=0000000000 last=0000000000 accepted=0000000000")
        #expect(try FactorFile(parsing: none.text).failures.lastAccepted == nil)
        let some = FactorFile(factors: [Self.authenticator], failures: FailureState(lastAccepted: Self.now))
        #expect(Self.failuresLine(some) == "failures count=0000 locked-until=0000000000 last=0000000000 accepted=1764220815")
        let back = try FactorFile(parsing: some.text)
        #expect(back.failures.lastAccepted == Self.now)
        #expect(back.failures.isClear, "a time of acceptance is no failure")
        #expect(back.text == some.text)
    }

    @Test("files from before the field parse (none recorded); any width is read")
    func oldFiles() throws {
        let old = try FactorFile(parsing: "twostep 1\nfailures count=0002 locked-until=0000000000 last=1764221000\n")
        #expect(old.failures == FailureState(count: 2, last: 1_764_221_000))
        #expect(old.failures.lastAccepted == nil)
        #expect(try FactorFile(parsing: "twostep 1\n").failures.lastAccepted == nil)
        #expect(try FactorFile(parsing: "twostep 1\nfailures count=0 accepted=42\n").failures.lastAccepted == 42)
        #expect(try FactorFile(parsing: "twostep 1\nfailures count=0 accepted=0000000000\n").failures.lastAccepted == nil)
        // The migration: the first write adds the field (20 bytes), once.
        let migrated = old.text
        #expect(migrated.contains("last=1764221000 accepted=0000000000\n"))
        #expect(try FactorFile(parsing: migrated).text == migrated)
    }

    @Test("a bad accepted= is an error naming the line", arguments: [
        "failures count=0 accepted=-1", "failures count=0 accepted=x", "failures count=0 accepted=",
        "failures count=0 accepted=1 accepted=2", "failures count=0 accepted=99999999999999999999",
    ])
    func malformed(line: String) {
        let error = malformedFileError("twostep 1\n\(line)\n")
        #expect(error?.line == 2, "\(line)")
    }

    // MARK: Fixed width: the in-place write stays possible

    @Test("the failures line keeps its length whatever accepted= holds")
    func fixedWidth() {
        let states = [FailureState(), FailureState(lastAccepted: 1), FailureState(lastAccepted: Self.now),
                      FailureState(count: 1000, lockedUntil: 9_999_999_999, last: 9_999_999_999, lastAccepted: 9_999_999_999)]
        let lengths = Set(states.map { Self.failuresLine(FactorFile(failures: $0)).utf8.count })
        #expect(lengths.count == 1)
    }

    @Test("a wrong code after a right one, and the next right code, change bytes of one length in the first sector")
    func inPlace() throws {
        var backups: [any Factor] = []
        for i in 1...10 { backups.append(Self.backup("abcdefghj\(i % 10)", id: "backup-\(i)")) }
        let verifier = Verifier()
        // The first acceptance of a fresh file: it takes the writer's form.
        let first = verifier.verify(code(Self.authenticator, at: Self.now), in: FactorFile(factors: [Self.authenticator] + backups),
                                    at: Self.now)
        let stored = try FactorFile(parsing: first.file.text)
        let wrong = verifier.verify(wrongCode(for: [Self.authenticator], at: Self.now + 30), in: stored, at: Self.now + 30)
        guard case .refused = wrong.decision else { Issue.record("not refused: \(wrong.decision)"); return }
        #expect(wrong.file.failures.lastAccepted == Self.now, "a wrong code keeps the time of the last right one")
        let wrongDiff = try #require(Self.differences(stored.text, wrong.file.text))
        #expect(wrongDiff.upperBound < 512)
        let later = Self.now + 60
        let right = verifier.verify(code(Self.authenticator, at: later), in: wrong.file, at: later)
        guard case .accepted = right.decision else { Issue.record("not accepted: \(right.decision)"); return }
        #expect(right.changesStateOnly)
        let rightDiff = try #require(Self.differences(wrong.file.text, right.file.text))
        #expect(rightDiff.upperBound / 512 == rightDiff.lowerBound / 512, "failures and last-step in one sector")
        // The bytes a login writes (lines reused from the parsed file) are the writer's.
        let parsed = try FactorFile(parsing: wrong.file.text)
        let again = verifier.verify(code(Self.authenticator, at: later), in: parsed, at: later)
        #expect(again.file.bytes(reusingLinesOf: parsed, in: Array(wrong.file.text.utf8)) == Array(right.file.text.utf8))
    }

    // MARK: The Verifier sets it on acceptance only

    @Test("an authenticator code sets it to now")
    func totp() throws {
        let result = Verifier().verify(code(Self.authenticator, at: Self.now), in: FactorFile(factors: [Self.authenticator]), at: Self.now)
        guard case .accepted = result.decision else { Issue.record("not accepted: \(result.decision)"); return }
        #expect(result.file.failures.lastAccepted == Self.now)
        #expect(try FactorFile(parsing: result.file.text).failures.lastAccepted == Self.now)
    }

    @Test("a backup code sets it to now")
    func backupCode() throws {
        let file = FactorFile(factors: [Self.authenticator, Self.backup("abcdefghjk", id: "backup-1")],
                              failures: FailureState(lastAccepted: 1_000))
        let result = Verifier().verify("abcd-efgh-jk", in: file, at: Self.now)
        guard case .accepted(let a) = result.decision else { Issue.record("not accepted: \(result.decision)"); return }
        #expect(a.kind == .backupCode)
        #expect(result.file.failures.lastAccepted == Self.now)
    }

    @Test("a sent code sets it to now")
    func sentCode() throws {
        let phone = Phone(id: "phone-1", number: try PhoneNumber(parsing: "+966501234534"), channel: .sms, label: "m", created: 1)
        var file = FactorFile(factors: [Self.authenticator, phone])
        let reservation = try CodeDelivery.reserve(phoneID: "phone-1", in: &file, policy: .standard, at: Self.now)
        guard case .send(let sent, _, _) = reservation else { Issue.record("no send: \(reservation)"); return }
        let result = Verifier().verify(sent, in: file, at: Self.now + 40)
        guard case .accepted(let a) = result.decision else { Issue.record("not accepted: \(result.decision)"); return }
        #expect(a.kind == .pendingCode)
        #expect(result.file.failures.lastAccepted == Self.now + 40)
    }

    @Test("a wrong code, a replay, a lock-out and its end keep the last accepted time")
    func keptOtherwise() throws {
        let verifier = Verifier(policy: VerificationPolicy(window: 1, maxFailures: 2, lockoutSeconds: 300))
        let accepted = verifier.verify(code(Self.authenticator, at: Self.now), in: FactorFile(factors: [Self.authenticator]), at: Self.now)
        let replay = verifier.verify(code(Self.authenticator, at: Self.now), in: accepted.file, at: Self.now + 1)
        guard case .refused(let r) = replay.decision, r.replay else { Issue.record("not a replay: \(replay.decision)"); return }
        #expect(replay.file.failures.lastAccepted == Self.now)
        let wrong = wrongCode(for: [Self.authenticator], at: Self.now + 2, reach: 12)
        let locking = verifier.verify(wrong, in: replay.file, at: Self.now + 2)
        #expect(locking.file.failures.lockedUntil == Self.now + 302)
        #expect(locking.file.failures.lastAccepted == Self.now)
        let locked = verifier.verify(code(Self.authenticator, at: Self.now + 90), in: locking.file, at: Self.now + 90)
        #expect(locked.decision == .lockedOut(until: Self.now + 302) && !locked.changed)
        #expect(locked.file.failures.lastAccepted == Self.now)
        let after = verifier.verify(wrong, in: locking.file, at: Self.now + 303)
        #expect(after.file.failures.count == 1 && after.file.failures.lockedUntil == nil)
        #expect(after.file.failures.lastAccepted == Self.now, "the end of a lock-out is a fresh start of the count only")
    }
}
