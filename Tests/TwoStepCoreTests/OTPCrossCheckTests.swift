import Foundation
import Testing
import TwoStepCore

/// Codes for random secrets compared with two independent generators,
/// oathtool (OATH Toolkit, C) and pyotp (Python), run as subprocesses.
@Suite("OTP: cross-checks with oathtool and pyotp")
struct OTPCrossCheckTests {
    struct Combination: Sendable, CustomTestStringConvertible {
        var algorithm: OTPAlgorithm
        var digits: Int
        var period: Int
        var testDescription: String { "\(algorithm.rawValue), \(digits) digits, \(period) s" }
    }

    /// Every algorithm × 6 and 8 digits × 30 and 60 s.
    static let combinations: [Combination] = OTPAlgorithm.allCases.flatMap { algorithm in
        [6, 8].flatMap { digits in [30, 60].map { Combination(algorithm: algorithm, digits: digits, period: $0) } }
    }

    /// Secret lengths: the minimum, the usual ones, and longer than a hash block.
    static let secretLengths = [10, 16, 20, 32, 64, 100, 129]

    static func randomSecret() throws -> [UInt8] {
        try randomBytes(secretLengths[try randomInt(in: 0...(secretLengths.count - 1))])
    }

    /// Times: the edges plus random ones up to 2096.
    static func times() throws -> [Int64] {
        var times: [Int64] = [0, 59, 1_767_225_600, 20_000_000_000]
        for _ in 0..<4 {
            let b = try randomBytes(4)
            times.append(Int64(b.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        }
        return times
    }

    /// Runs `arguments` (looked up in PATH) and returns its standard output;
    /// records an issue and returns nil when it cannot be run or fails.
    static func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            Issue.record("cannot run \(arguments[0]): \(error)", sourceLocation: sourceLocation)
            return nil
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("\(arguments[0]) exited with \(process.terminationStatus): \(String(decoding: err, as: UTF8.self))", sourceLocation: sourceLocation)
            return nil
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test("oathtool agrees on five consecutive steps", arguments: combinations)
    func oathtool(combination c: Combination) throws {
        let secret = try Self.randomSecret()
        let parameters = try OTPParameters(algorithm: c.algorithm, digits: c.digits, period: c.period)
        let time = try Self.times().last!
        // -w 4: the code at --now and the four after it, one a line.
        let output = try #require(Self.run([
            "oathtool", "--totp=\(c.algorithm.rawValue.lowercased())", "-b", "--digits=\(c.digits)",
            "--time-step-size=\(c.period)s", "--now=@\(time)", "-w", "4", Base32.encode(secret),
        ]))
        let theirs = output.split(separator: "\n").map(String.init)
        let key = SecretBytes(secret)
        let step = OTP.timeStep(at: time, period: c.period)
        let ours = (0..<5).map { OTP.totp(secret: key, step: step + UInt64($0), parameters: parameters) }
        #expect(theirs == ours, "secret \(Base32.encode(secret)) at \(time)")
    }

    @Test("oathtool agrees with the example command (SHA256, 8 digits, 60 s, 2026-01-01)")
    func oathtoolExample() throws {
        let secret = try randomBytes(20)
        let output = try #require(Self.run([
            "oathtool", "--totp=sha256", "-b", "--digits=8", "--time-step-size=60s",
            "--now=2026-01-01 00:00:00 UTC", Base32.encode(secret),
        ]))
        let parameters = try OTPParameters(algorithm: .sha256, digits: 8, period: 60)
        let ours = OTP.totp(secret: SecretBytes(secret), at: 1_767_225_600, parameters: parameters)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == ours)
    }

    @Test("pyotp agrees for every combination at several times (one Python run)")
    func pyotp() throws {
        struct Case { var combination: Combination; var secret: [UInt8]; var times: [Int64] }
        var cases = [Case]()
        for c in Self.combinations {
            cases.append(Case(combination: c, secret: try Self.randomSecret(), times: try Self.times()))
        }
        // One line per case: "SECRET DIGITS PERIOD DIGEST T1,T2,…"; prints the codes space-separated.
        let request = cases.map { k in
            "\(Base32.encode(k.secret)) \(k.combination.digits) \(k.combination.period) \(k.combination.algorithm.rawValue.lowercased()) "
                + k.times.map(String.init).joined(separator: ",")
        }.joined(separator: "\n")
        let script = """
            import hashlib, sys, pyotp
            class TOTP(pyotp.TOTP):
                min_secret_length_bits = 80  # pyotp 2.10 wants 112 by default; twostep allows 80
            for line in sys.argv[1].splitlines():
                secret, digits, period, digest, times = line.split(" ")
                totp = TOTP(secret, digits=int(digits), interval=int(period), digest=getattr(hashlib, digest))
                print(" ".join(totp.at(int(t)) for t in times.split(",")))
            """
        let output = try #require(Self.run(["python3", "-c", script, request]))
        let lines = output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try #require(lines.count == cases.count, "pyotp printed \(lines.count) lines for \(cases.count) cases")
        for (k, theirs) in zip(cases, lines) {
            let parameters = try OTPParameters(algorithm: k.combination.algorithm, digits: k.combination.digits, period: k.combination.period)
            let key = SecretBytes(k.secret)
            let ours = k.times.map { OTP.totp(secret: key, at: $0, parameters: parameters) }
            #expect(theirs == ours, "\(k.combination.testDescription), secret \(Base32.encode(k.secret))")
        }
    }
}
