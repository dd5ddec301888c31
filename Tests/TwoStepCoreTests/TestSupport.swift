import Testing
import TwoStepCore

// Shared fixtures and helpers for the TwoStepCore tests.

/// The RFC 4226 / RFC 6238 SHA1 test key, "12345678901234567890".
let rfcKey20 = Array("12345678901234567890".utf8)
/// The same key in Base32, as it appears in factor files and URIs.
let rfcKey20Base32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

/// Random bytes from the kernel; a test fails (rather than crashes) if none come.
func randomBytes(_ count: Int) throws -> [UInt8] {
    try SystemRandom.bytes(count)
}

/// A random integer in `range` (small ranges only).
func randomInt(in range: ClosedRange<Int>) throws -> Int {
    range.lowerBound + Int(try SystemRandom.uniform(below: UInt32(range.count)))
}

/// The error a typed-throwing call threw, or nil when it returned.
func thrownError<R>(_ body: () throws(TwoStepError) -> R) -> TwoStepError? {
    do throws(TwoStepError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The line and reason of a `malformedFile` error from parsing `text`;
/// nil when the text parses or another error is thrown.
func malformedFileError(_ text: String) -> (line: Int, reason: String)? {
    guard case .malformedFile(let line, let reason)? = thrownError({ () throws(TwoStepError) in try FactorFile(parsing: text) }) else {
        return nil
    }
    return (line, reason)
}

/// An authenticator with the RFC key unless told otherwise.
func makeAuthenticator(
    id: String = "totp-1", secret: [UInt8] = rfcKey20, parameters: OTPParameters = .standard,
    label: String = "Phone", created: Int64 = 1_764_220_800, lastStep: UInt64? = nil
) -> TOTPAuthenticator {
    TOTPAuthenticator(id: id, secret: SecretBytes(secret), parameters: parameters, label: label, created: created, lastStep: lastStep)
}

/// The code `authenticator` shows `offset` time steps away from `time`.
func code(_ authenticator: TOTPAuthenticator, at time: Int64, offset: Int64 = 0) -> String {
    OTP.totp(secret: authenticator.secret, at: time + offset * Int64(authenticator.parameters.period), parameters: authenticator.parameters)
}

/// A well-formed code that none of `authenticators` shows within `reach`
/// steps of `time`.
func wrongCode(for authenticators: [TOTPAuthenticator], at time: Int64, reach: Int64 = 3) -> String {
    let digits = authenticators.first?.parameters.digits ?? 6
    var taken = Set<String>()
    for a in authenticators {
        for offset in -reach...reach { taken.insert(code(a, at: time, offset: offset)) }
    }
    var n = 0
    while true {
        let text = String(n)
        let candidate = String(repeating: "0", count: digits - text.count) + text
        if !taken.contains(candidate) { return candidate }
        n += 1
    }
}

/// Field-by-field comparison of two files (secrets included), beyond the
/// text equality `FactorFile.==` checks.
func expectSameContent(_ a: FactorFile, _ b: FactorFile, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.factors.count == b.factors.count, sourceLocation: sourceLocation)
    for (x, y) in zip(a.factors, b.factors) {
        if let x = x as? TOTPAuthenticator, let y = y as? TOTPAuthenticator {
            #expect(x == y, "authenticator \(x.id)", sourceLocation: sourceLocation)
            #expect(x.secret == y.secret, sourceLocation: sourceLocation)
        } else if let x = x as? BackupCode, let y = y as? BackupCode {
            #expect(x == y, "backup code \(x.id)", sourceLocation: sourceLocation)
        } else if let x = x as? SecurityKey, let y = y as? SecurityKey {
            #expect(x == y && x.key.blob == y.key.blob, "security key \(x.id)", sourceLocation: sourceLocation)
        } else {
            Issue.record("factors of different kinds: \(x.id) and \(y.id)", sourceLocation: sourceLocation)
        }
    }
    #expect(a.trustedDevices == b.trustedDevices, sourceLocation: sourceLocation)
    #expect(a.failures == b.failures, sourceLocation: sourceLocation)
}
