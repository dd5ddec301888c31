import FuzzSupport
import TwoStepCore

/// The verifier, fed two ways (first input byte):
///
/// even — arbitrary (file text, answer) pairs, NUL-separated. Whatever the
///   file holds, an accepted answer must be, by a computation made here
///   independently (Nettle's HMAC directly), a code of the accepted
///   factor: a TOTP code of an unused step within the window, or the
///   preimage of a backup/pending code's hash. During a lock-out nothing is
///   accepted and nothing changes but a lock-out stored beyond the policy's
///   length, capped at `lockoutSeconds` from now; the new file always
///   parses again. `now` is sometimes at the ends of Int64 (nothing traps),
///   and the file's `sends` line goes through the send policy: a next
///   send allowed after now and at most a window away, the log kept
///   within the window after a send.
///
/// odd — a file built here with a known secret and a known backup code,
///   a lock-out state, a window and an answer derived from the right code
///   (mangled or not). The decision is predicted here and must be exactly
///   the verifier's, both ways: it accepts what it must and nothing else.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    if input.byte() & 1 == 0 { arbitrary(&input) } else { constructed(&input) }
    return 0
}

private let backupAlphabet = Array("23456789abcdefghjkmnpqrstuvwxyz".utf8)

private func bytes(of secret: SecretBytes) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }

/// The last step a factor's `lastStep` counts as (and is stored as) at
/// `now`: a step beyond the window counts as the window's last (a clock
/// stepped back).
private func effectiveLast(_ last: UInt64?, now: Int64, period: Int, window: Int) -> UInt64? {
    let current = now <= 0 ? 0 : UInt64(now) / UInt64(period)
    let (end, overflow) = current.addingReportingOverflow(UInt64(window))
    return last.map { overflow ? $0 : min($0, end) }
}

/// The TOTP steps within `window` of `now` whose code is `answer` (spaces ignored).
private func matchingSteps(_ answer: String, key: [UInt8], algorithm: String, digits: Int, period: Int,
                           now: Int64, window: Int) -> [UInt64] {
    let typed = String(decoding: answer.utf8.filter { $0 != UInt8(ascii: " ") }, as: UTF8.self)
    let current = now <= 0 ? 0 : UInt64(now) / UInt64(period)
    var out = [UInt64]()
    for offset in -window...window {
        if offset < 0 && current < UInt64(-offset) { continue }
        let step = offset < 0 ? current - UInt64(-offset) : current + UInt64(offset)
        if Reference.hotp(key: key, counter: step, algorithm: algorithm, digits: digits) == typed { out.append(step) }
    }
    return out
}

/// True when HMAC-SHA256(salt, normalized answer) is `hash`.
private func hashMatches(_ answer: String, salt: [UInt8], hash: [UInt8], lowercase: Bool) -> Bool {
    let text = lowercase ? answer.lowercased() : answer
    let normalized = Array(text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "-") })
    return Reference.hmac("SHA256", key: salt, message: normalized) == hash
}

private func arbitrary(_ input: inout FuzzInput) {
    // The top few values of the drawn time stand for the ends of Int64 and
    // of the file's times (the seeds' layout is unchanged).
    let extremes: [Int64] = [.max, .min, .max - 1, UnixTime.latest, UnixTime.latest + 1, -1]
    let raw = input.integer(in: 0...(1 << 36))
    let top = (1 << 36) - raw
    let now = top < extremes.count ? extremes[top] : Int64(raw)
    let window = input.integer(in: 0...3)
    let lockoutSeconds: Int64 = 300
    let policy = VerificationPolicy(window: window, maxFailures: input.integer(in: 1...10), lockoutSeconds: lockoutSeconds)
    let sendPolicy = SendPolicy(limit: policy.maxFailures,
                                window: Int64(SendPolicy.windowRange.lowerBound + raw % SendPolicy.windowRange.count))
    let (fileBytes, answerBytes) = splitAtNUL(input.rest())
    guard let text = String(validating: fileBytes, as: UTF8.self), let file = try? FactorFile(parsing: text) else { return }
    checkSends(file.sends, policy: sendPolicy, now: now)
    let answer = String(decoding: answerBytes, as: UTF8.self)
    let result = Verifier(policy: policy).verify(answer, in: file, at: now)

    require((try? FactorFile(parsing: result.file.text)) != nil || now > UnixTime.latest || now < 0,
            "the verifier's new file does not parse:\n\(result.file.text)")
    if !result.changed { require(result.file.text == file.text, "unchanged result with a changed file") }
    if let until = file.failures.lockedUntil, now < until {
        let (sum, overflow) = now.addingReportingOverflow(lockoutSeconds)
        let capped = overflow ? until : min(until, sum)
        require(result.decision == .lockedOut(until: capped), "no lock-out decision (until \(capped)) during a lock-out: \(result.decision)")
        var expected = file
        expected.failures.lockedUntil = capped
        require(result.file.text == expected.text, "a locked-out attempt changed more than the lock-out's end")
        return
    }
    guard case .accepted(let acceptance) = result.decision else { return }
    guard let factor = file.factors.first(where: { $0.id == acceptance.factorID }) else {
        require(false, "accepted by a factor that is not in the file: \(acceptance.factorID)")
        return
    }
    require(result.file.failures.isClear || result.file.failures.count == 0, "failures not cleared on acceptance")
    switch factor {
    case let totp as TOTPAuthenticator:
        var steps = matchingSteps(answer, key: bytes(of: totp.secret), algorithm: totp.parameters.algorithm.rawValue,
                                  digits: totp.parameters.digits, period: totp.parameters.period, now: now, window: window)
        if let last = effectiveLast(totp.lastStep, now: now, period: totp.parameters.period, window: window) {
            steps.removeAll { $0 <= last }
        }
        require(!steps.isEmpty, "accepted a TOTP answer that is no unused code within the window")
        let updated = result.file.authenticators.first { $0.id == totp.id }
        require(updated?.lastStep == steps.max(), "last-step not advanced to the accepted step")
    case let backup as BackupCode:
        require(hashMatches(answer, salt: backup.salt.bytes, hash: backup.hash.bytes, lowercase: true), "accepted a backup answer that is not the code")
        require(!result.file.factors.contains { $0.id == backup.id }, "a spent backup code is still in the file")
    case let pending as PendingCode:
        require(hashMatches(answer, salt: pending.salt.bytes, hash: pending.hash.bytes, lowercase: false), "accepted a pending answer that is not the code")
        require(now < pending.expires, "accepted an expired pending code")
        require(!result.file.factors.contains { $0.id == pending.id }, "a spent pending code is still in the file")
    default:
        require(false, "accepted by a factor of kind \(type(of: factor)), which has no code")
    }
}

private func constructed(_ input: inout FuzzInput) {
    // The factors, from the input.
    let key = input.bytes(input.integer(in: 10...40))
    let algorithm = ["SHA1", "SHA256", "SHA512"][input.integer(in: 0...2)]
    let digits = input.integer(in: 6...8)
    let period = input.bool() ? 30 : input.integer(in: 1...300)
    let now = Int64(1_600_000_000 + input.integer(in: 0...(1 << 32)))
    let window = input.integer(in: 0...3)
    let maxFailures = input.integer(in: 1...10)
    let lockoutSeconds = Int64(input.integer(in: 0...600))
    let step = UInt64(now) / UInt64(period)
    // Now and then a last step or a lock-out far in the future (a clock
    // stepped back): neither may lock the user out beyond the policy.
    let farFuture = input.integer(in: 0...7) == 0
    let lastStep: UInt64? = input.bool()
        ? (farFuture ? UInt64(UnixTime.latest) / UInt64(period) : UInt64(Int64(step) + Int64(input.integer(in: -5...5)))) : nil
    let imported = input.bool()
    let backupCode: [UInt8] = imported
        ? (0..<8).map { _ in UInt8(ascii: "0") + input.byte() % 10 }
        : (0..<10).map { _ in backupAlphabet[Int(input.byte()) % backupAlphabet.count] }
    let salt = input.bytes(16)
    let failureCount = input.integer(in: 0...12)
    let lockedUntil: Int64? = input.bool() ? (farFuture ? UnixTime.latest : now + Int64(input.integer(in: -100...100))) : nil

    var lines = ["twostep 1",
                 "totp id=totp-1 algorithm=\(algorithm) digits=\(digits) period=\(period) secret=\(Reference.base32(key)) label=phone created=1"
                     + (lastStep.map { " last-step=\($0)" } ?? ""),
                 "backup id=backup-1 salt=\(Reference.hex(salt)) hash=\(Reference.hex(Reference.hmac("SHA256", key: salt, message: backupCode))) created=1"]
    if failureCount > 0 || lockedUntil != nil {
        lines.append("failures count=\(failureCount)" + (lockedUntil.map { " locked-until=\($0)" } ?? ""))
    }
    let text = lines.joined(separator: "\n") + "\n"
    let file: FactorFile
    do { file = try FactorFile(parsing: text) } catch {
        require(false, "a well-formed file does not parse: \(error)\n\(text)")
        return
    }

    // The answer: the right TOTP code of a nearby step, or the backup code,
    // or raw bytes; then maybe mangled.
    var answer: [UInt8]
    switch input.integer(in: 0...2) {
    case 0:
        let offset = Int64(input.integer(in: -4...4))
        answer = Array(Reference.hotp(key: key, counter: UInt64(Int64(step) + offset), algorithm: algorithm, digits: digits).utf8)
    case 1:
        answer = backupCode.map { input.bool() && $0 >= UInt8(ascii: "a") ? $0 - 32 : $0 }  // upper case
    default:
        answer = input.bytes(input.integer(in: 0...12))
    }
    for _ in 0..<input.integer(in: 0...3) {
        let position = answer.isEmpty ? 0 : input.integer(in: 0...answer.count)
        switch input.integer(in: 0...4) {
        case 0: answer.insert(UInt8(ascii: " "), at: position)
        case 1: answer.insert(UInt8(ascii: "-"), at: position)
        case 2: if position < answer.count { answer[position] = input.byte() }
        case 3: if position < answer.count { answer.remove(at: position) }
        default: answer.insert(input.byte(), at: position)
        }
    }
    let answerText = String(decoding: answer, as: UTF8.self)

    // The prediction.
    let policy = VerificationPolicy(window: window, maxFailures: maxFailures, lockoutSeconds: lockoutSeconds)
    let result = Verifier(policy: policy).verify(answerText, in: file, at: now)
    require((try? FactorFile(parsing: result.file.text)) != nil, "the verifier's new file does not parse:\n\(result.file.text)")
    if let until = lockedUntil, now < until, now < min(until, now + lockoutSeconds) {
        let capped = min(until, now + lockoutSeconds)
        require(result.decision == .lockedOut(until: capped), "expected the lock-out until \(capped), got \(result.decision)")
        require(result.file.failures.lockedUntil == capped, "the lock-out is not stored capped at \(capped)")
        require(result.changed == (capped != until), "a locked-out attempt changed the file, or a capped lock-out was not stored")
        return
    }
    let steps = matchingSteps(answerText, key: key, algorithm: algorithm, digits: digits, period: period, now: now, window: window)
    let last = effectiveLast(lastStep, now: now, period: period, window: window)
    let unused = steps.filter { last == nil || $0 > last! }
    let backupMatch = hashMatches(answerText, salt: salt, hash: Reference.hmac("SHA256", key: salt, message: backupCode), lowercase: true)
    if let accepted = unused.max() {
        guard case .accepted(let a) = result.decision, a.kind == .authenticator, a.factorID == "totp-1", a.backupCodesLeft == nil else {
            require(false, "expected TOTP acceptance of step \(accepted), got \(result.decision)")
            return
        }
        require(result.file.authenticators.first?.lastStep == accepted, "last-step is not \(accepted)")
        require(result.file.failures.isClear, "failures not cleared")
    } else if backupMatch {
        guard case .accepted(let a) = result.decision, a.kind == .backupCode, a.factorID == "backup-1", a.backupCodesLeft == 0 else {
            require(false, "expected backup acceptance, got \(result.decision)")
            return
        }
        require(result.file.backupCodes.isEmpty, "the spent backup code is still there")
    } else {
        let before = lockedUntil != nil ? 0 : failureCount  // an expired lock-out starts afresh
        let count = before + 1
        let until = count >= maxFailures ? now + lockoutSeconds : nil
        guard case .refused(let r) = result.decision, r.replay == !steps.isEmpty, r.failures == count, r.lockedUntil == until else {
            require(false, "expected a refusal (replay \(!steps.isEmpty), \(count) failures, locked until \(String(describing: until))), got \(result.decision) for '\(answerText)'")
            return
        }
        require(result.file.authenticators.first?.lastStep == last, "a refusal moved last-step (other than lowering a future one to the window's end)")
        require(result.file.backupCodes.count == 1, "a refusal spent the backup code")
    }
}

/// The send policy on a log read from a file: never traps; a send refused
/// now is allowed again after `now` and at most a window from now (sends
/// dated in the future count as sent now); after a send is recorded the
/// log holds only times inside the window, none after now.
private func checkSends(_ log: SendLog, policy: SendPolicy, now: Int64) {
    if let next = policy.nextAllowed(after: log, at: now) {
        require(next > now || now == .max, "the next send (\(next)) is not after now (\(now))")
        let (limit, overflow) = now.addingReportingOverflow(policy.window)
        require(overflow || next <= limit, "the next send (\(next)) is more than a window after now (\(now))")
    }
    var recorded = log
    policy.record(&recorded, at: now)
    require(recorded.times.last == now && recorded.times.allSatisfy { $0 <= now }, "the recorded log has times after now: \(recorded.times)")
    require(recorded.times == recorded.times.sorted(), "the recorded log is not oldest first")
}
