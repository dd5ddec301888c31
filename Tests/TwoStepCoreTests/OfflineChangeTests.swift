import Testing
import TwoStepCore

/// offline=cached: what a login decided from a cached record may change,
/// and how it merges into the database's record.
@Suite struct OfflineChangeTests {
    let now: Int64 = 1_796_000_000
    let policy = VerificationPolicy(window: 1, maxFailures: 5, lockoutSeconds: 300)

    func record(lastStep: UInt64? = 100, backup: Bool = true) -> FactorFile {
        var file = FactorFile()
        file.factors.append(makeAuthenticator(lastStep: lastStep))
        if backup {
            file.factors.append(BackupCode(id: "backup-1", salt: [UInt8](repeating: 1, count: 16), hash: [UInt8](repeating: 2, count: 32), created: 0))
        }
        return file
    }

    @Test func anAcceptedAuthenticatorCodeIsAnAllowedChange() throws {
        let old = record()
        let auth = makeAuthenticator()
        let result = Verifier(policy: policy).verify(code(auth, at: now), in: old, at: now)
        let change = try #require(OfflineChange(from: old, to: result.file, at: now))
        #expect(change.steps == ["totp-1": UInt64(now / 30)])
        #expect(change.accepted == now && change.failures == 0)
    }

    @Test func aWrongCodeIsOneFailure() throws {
        let old = record()
        let result = Verifier(policy: policy).verify(wrongCode(for: [makeAuthenticator()], at: now), in: old, at: now)
        let change = try #require(OfflineChange(from: old, to: result.file, at: now))
        #expect(change.steps.isEmpty && change.failures == 1 && change.accepted == nil)
    }

    @Test func aSpentBackupCodeOrAnyOtherEditIsRefused() {
        let old = record()
        var spent = old
        spent.factors.removeLast()
        #expect(OfflineChange(from: old, to: spent, at: now) == nil)
        var relabelled = old
        relabelled.factors[0] = makeAuthenticator(label: "other", lastStep: 100)
        #expect(OfflineChange(from: old, to: relabelled, at: now) == nil)
        var backwards = old
        backwards.factors[0] = makeAuthenticator(lastStep: 99)
        #expect(OfflineChange(from: old, to: backwards, at: now) == nil)
    }

    @Test func mergingKeepsTheHighestStepAndAddsFailures() {
        var database = record(lastStep: 105)
        database.failures = FailureState(count: 3, last: now - 10)
        let change = OfflineChange(steps: ["totp-1": 104], failures: 2, accepted: now, time: now)
        let conflicts = change.merge(into: &database, policy: policy)
        #expect(conflicts == ["totp-1"])
        #expect((database.factors[0] as? TOTPAuthenticator)?.lastStep == 105)
        #expect(database.failures.count == 5)
        #expect(database.failures.lockedUntil == now + 300)
        #expect(database.failures.lastAccepted == now)

        var behind = record(lastStep: 90)
        #expect(OfflineChange(steps: ["totp-1": 104], time: now).merge(into: &behind, policy: policy).isEmpty)
        #expect((behind.factors[0] as? TOTPAuthenticator)?.lastStep == 104)
    }
}
