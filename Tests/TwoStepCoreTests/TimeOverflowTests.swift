import Testing
@testable import TwoStepCore

// Issue 19, item 8: times in a user's own factor file must neither crash
// the process that reads them (the module runs inside sshd) nor lock
// anyone out beyond what the policy says when the clock was stepped back.

/// A factor file with `lines` after an authenticator, as text.
private func fileText(_ lines: String...) -> String {
    "twostep 1\n" + "totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=phone created=1\n"
        + lines.map { $0 + "\n" }.joined()
}

@Suite struct TimeRangeParsingTests {
    static let huge = "9223372036854775807"
    static let beyond = String(UnixTime.latest + 1)

    @Test(arguments: [
        "sends times=\(huge),\(huge),\(huge)",
        "sends times=1,\(beyond)",
        "failures count=5 locked-until=\(huge)",
        "failures count=0 last=\(beyond)",
        "failures count=0 accepted=\(beyond)",
        "trust id=trust-1 service=sshd rhost=192.0.2.7 created=1 expires=\(huge)",
        "trust id=trust-1 service=sshd rhost=192.0.2.7 created=\(beyond) expires=\(beyond)",
        "backup id=backup-1 salt=\(String(repeating: "00", count: 16)) hash=\(String(repeating: "00", count: 32)) created=\(huge)",
        "phone id=phone-1 number=+966501234534 channel=sms label=x created=\(beyond)",
    ])
    func timesBeyondTheRangeAreErrorsOnTheirLine(_ line: String) throws {
        let error = try #require(malformedFileError(fileText(line)))
        #expect(error.line == 3)
    }

    @Test func aLastStepBeyondTheRangeIsAnError() throws {
        let text = "twostep 1\ntotp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=phone created=1 last-step=\(Self.huge)\n"
        #expect(try #require(malformedFileError(text)).line == 2)
    }

    @Test func theLatestTimeParses() throws {
        let t = UnixTime.latest
        let file = try FactorFile(parsing: fileText(
            "sends times=\(t),\(t)", "failures count=5 locked-until=\(t) last=\(t) accepted=\(t)",
            "trust id=trust-1 service=sshd rhost=192.0.2.7 created=\(t) expires=\(t)"))
        #expect(file.sends.times == [t, t])
        #expect(file.failures.lockedUntil == t)
    }
}

@Suite struct TimeArithmeticTests {
    let now: Int64 = 1_800_000_000

    @Test func saturates() {
        #expect(UnixTime.adding(.max, 900) == .max)
        #expect(UnixTime.adding(.min, -1) == .min)
        #expect(UnixTime.subtracting(.min, 900) == .min)
        #expect(UnixTime.subtracting(.max, -900) == .max)
        #expect(UnixTime.seconds(days: .max) == .max)
        #expect(UnixTime.seconds(days: -3) == 0)
        #expect(UnixTime.adding(now, 1) == now + 1)
    }

    @Test func sendsAtTheLimitsOfInt64DoNotTrap() {
        let policy = SendPolicy.standard
        for t: Int64 in [.max, .min, 0, UnixTime.latest] {
            let log = SendLog(times: [t, t, t])
            for at: Int64 in [.max, .min, 0, now] {
                let next = policy.nextAllowed(after: log, at: at)
                if let next { #expect(next > at || at == .max) }
                var copy = log
                policy.record(&copy, at: at)
            }
        }
    }

    @Test func futureSendsCountAsSentNow() throws {
        let policy = SendPolicy.standard
        let future = UnixTime.latest
        let next = try #require(policy.nextAllowed(after: SendLog(times: [future, future, future]), at: now))
        #expect(next == now + policy.window)
        // Two future sends and the limit of 3: one more may go.
        #expect(policy.nextAllowed(after: SendLog(times: [future, future]), at: now) == nil)
        var log = SendLog(times: [future])
        policy.record(&log, at: now)
        #expect(log.times == [now, now])
    }

    @Test func aFarFutureLockOutIsCappedAtTheLockOutLength() throws {
        let verifier = Verifier(policy: .standard)
        var file = try FactorFile(parsing: fileText("failures count=5 locked-until=\(UnixTime.latest)"))
        #expect(verifier.lockout(in: file, at: now) == now + 300)
        // verify stores the capped end, so that it runs out.
        let result = verifier.verify("000000", in: file, at: now)
        #expect(result.decision == .lockedOut(until: now + 300))
        #expect(result.changed && result.file.failures.lockedUntil == now + 300)
        #expect(verifier.lockout(in: result.file, at: now + 300) == nil)
        // A lock-out within the policy's length is kept as it is.
        file.failures.lockedUntil = now + 100
        #expect(verifier.lockout(in: file, at: now) == now + 100)
        #expect(!verifier.capLockout(in: &file, at: now))
        #expect(verifier.verify("000000", in: file, at: now).changed == false)
    }

    @Test func aLockOutAtTheEndOfTimeDoesNotTrap() {
        var file = FactorFile()
        file.factors = [makeAuthenticator()]
        let verifier = Verifier(policy: VerificationPolicy(window: 1, maxFailures: 1, lockoutSeconds: 604_800))
        let r = verifier.verify("000000", in: file, at: .max)
        #expect(r.file.failures.lockedUntil == .max)
    }

    @Test func aLastStepInTheFutureIsNotALockOut() throws {
        let a = makeAuthenticator(lastStep: UInt64(UnixTime.latest / 30))
        let verifier = Verifier(policy: .standard)
        var file = FactorFile()
        file.factors = [a]
        // This step's code counts as a replay: the stored step is lowered to
        // the window's last one (now's step + 1), and stored so ...
        let replay = verifier.verify(code(a, at: now), in: file, at: now)
        guard case .refused(let refusal) = replay.decision else { Issue.record("\(replay.decision)"); return }
        #expect(refusal.replay)
        #expect(replay.file.authenticators.first?.lastStep == UInt64(now / 30) + 1)
        // ... so once the steps move past the window, codes are accepted again.
        let later = now + 2 * 30
        let accepted = verifier.verify(code(a, at: later), in: replay.file, at: later)
        guard case .accepted = accepted.decision else { Issue.record("\(accepted.decision)"); return }
        #expect(accepted.file.authenticators.first?.lastStep == UInt64(later / 30))
        // From the file as it was, the first code is a replay at any time (the step is lowered first).
        let direct = verifier.verify(code(a, at: later), in: file, at: later)
        guard case .refused = direct.decision else { Issue.record("\(direct.decision)"); return }
        // A last step inside the window is left as it is.
        let near = makeAuthenticator(lastStep: UInt64(now / 30) + 1)
        #expect(near.cappingLastStep(at: now, window: 1) == nil)
        #expect(near.cappingLastStep(at: now, window: 0)?.lastStep == UInt64(now / 30))
    }

    @Test func trustAtTheEndOfTimeDoesNotTrap() {
        let device = Device(service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil)
        let policy = TrustPolicy(trustDays: 365, trustBy: nil)
        let file = policy.trust(device, in: FactorFile(), at: .max)
        #expect(file.trustedDevices.first?.expires == .max)
        #expect(policy.trustedRecord(in: file, for: device, at: .max) == nil)
        var record = file
        record.trustedDevices[0].created = .max - 10
        #expect(policy.trustedRecord(in: record, for: device, at: .max - 5) != nil)
    }

    @Test func offlineMergeAtTheEndOfTimeDoesNotTrap() {
        var file = FactorFile()
        file.factors = [makeAuthenticator()]
        let change = OfflineChange(failures: 9, time: .max)
        _ = change.merge(into: &file, policy: .standard)
        #expect(file.failures.lockedUntil == .max)
    }

    @Test func aPendingCodeMadeAtTheEndOfTimeDoesNotTrap() throws {
        let made = try PendingCode.generate(id: "pending-1", phoneID: "phone-1", now: .max)
        #expect(made.factor.expires == .max)
    }
}
