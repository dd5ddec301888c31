import Testing
import TwoStepCore

@Suite("OTP: RFC 4226 and RFC 6238 test vectors")
struct OTPVectorTests {
    /// RFC 4226 Appendix D: secret "12345678901234567890", counters 0–9.
    static let hotpVectors = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]

    @Test("RFC 4226 Appendix D HOTP values", arguments: 0..<10)
    func hotp(counter: Int) {
        let value = OTP.hotp(secret: SecretBytes(rfcKey20), counter: UInt64(counter), algorithm: .sha1, digits: 6)
        #expect(value == Self.hotpVectors[counter])
    }

    /// RFC 6238 Appendix B: time, SHA1, SHA256, SHA512 (8 digits, period 30).
    static let totpVectors: [(Int64, String, String, String)] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ]

    /// RFC 6238's seeds: the key for each hash is as long as its digest.
    static func rfc6238Key(_ algorithm: OTPAlgorithm) -> SecretBytes {
        switch algorithm {
        case .sha1: SecretBytes(Array("12345678901234567890".utf8))
        case .sha256: SecretBytes(Array("12345678901234567890123456789012".utf8))
        case .sha512: SecretBytes(Array("1234567890123456789012345678901234567890123456789012345678901234".utf8))
        }
    }

    @Test("an authenticator accepts every RFC 6238 code, leading zeros and spaces too, and nothing else", arguments: OTPAlgorithm.allCases)
    func authenticatorChecksVectors(algorithm: OTPAlgorithm) throws {
        let parameters = try OTPParameters(algorithm: algorithm, digits: 8, period: 30)
        let factor = TOTPAuthenticator(id: "totp-1", secret: Self.rfc6238Key(algorithm), parameters: parameters, label: "rfc", created: 0)
        for (time, sha1, sha256, sha512) in Self.totpVectors {
            let code = switch algorithm {
            case .sha1: sha1
            case .sha256: sha256
            case .sha512: sha512
            }
            let context = VerificationContext(now: time, window: 0)
            let spaced = String(code.prefix(4)) + " " + String(code.suffix(4))
            for answer in [code, spaced] {
                guard case .accepted = factor.check(answer, context: context) else {
                    Issue.record("\(algorithm) at \(time): \(answer) refused")
                    continue
                }
            }
            let value = try #require(Int(code))
            // One digit more or less, another number, a sign; and the number
            // without its leading zeros (1111111109's SHA1 code is 07081804).
            var wrongs = [code + "0", String(code.dropLast()), eightDigits((value + 1) % 100_000_000), "+" + code.dropFirst()]
            if code.hasPrefix("0") { wrongs.append(String(value)) }
            for wrong in wrongs {
                if case .accepted = factor.check(wrong, context: context) { Issue.record("\(algorithm) at \(time): \(wrong) accepted") }
            }
        }
    }

    @Test("RFC 6238 Appendix B TOTP values", arguments: OTPAlgorithm.allCases)
    func totp(algorithm: OTPAlgorithm) throws {
        let key = Self.rfc6238Key(algorithm)
        let parameters = try OTPParameters(algorithm: algorithm, digits: 8, period: 30)
        for (time, sha1, sha256, sha512) in Self.totpVectors {
            let expected = switch algorithm {
            case .sha1: sha1
            case .sha256: sha256
            case .sha512: sha512
            }
            #expect(OTP.totp(secret: key, at: time, parameters: parameters) == expected, "\(algorithm) at \(time)")
        }
    }

    @Test("6 and 7 digits are the low digits of the 8-digit value")
    func shorterCodes() throws {
        let key = Self.rfc6238Key(.sha1)
        for digits in 6...7 {
            let parameters = try OTPParameters(algorithm: .sha1, digits: digits, period: 30)
            for (time, sha1, _, _) in Self.totpVectors {
                #expect(OTP.totp(secret: key, at: time, parameters: parameters) == String(sha1.suffix(digits)))
            }
        }
    }

    @Test("time steps count from the epoch; times before it are step 0")
    func timeSteps() {
        #expect(OTP.timeStep(at: 0, period: 30) == 0)
        #expect(OTP.timeStep(at: 29, period: 30) == 0)
        #expect(OTP.timeStep(at: 30, period: 30) == 1)
        #expect(OTP.timeStep(at: 59, period: 30) == 1)
        #expect(OTP.timeStep(at: 1_111_111_109, period: 30) == 0x23523EC)
        #expect(OTP.timeStep(at: 20_000_000_000, period: 30) == 0x27BC86AA)
        #expect(OTP.timeStep(at: 119, period: 60) == 1)
        #expect(OTP.timeStep(at: -1, period: 30) == 0)
        #expect(OTP.timeStep(at: .min, period: 30) == 0)
    }

    @Test("TOTP at a time is HOTP of its time step")
    func totpIsHOTPOfStep() throws {
        let parameters = try OTPParameters(algorithm: .sha256, digits: 7, period: 45)
        let key = SecretBytes(try randomBytes(20))
        for time: Int64 in [0, 44, 45, 1_764_220_815] {
            let step = OTP.timeStep(at: time, period: 45)
            #expect(OTP.totp(secret: key, at: time, parameters: parameters)
                == OTP.hotp(secret: key, counter: step, algorithm: .sha256, digits: 7))
            #expect(OTP.totp(secret: key, step: step, parameters: parameters)
                == OTP.totp(secret: key, at: time, parameters: parameters))
        }
    }

    @Test("parameters outside 6–8 digits and 1–300 s are rejected")
    func parameterRanges() throws {
        for digits in [6, 7, 8] { _ = try OTPParameters(algorithm: .sha1, digits: digits, period: 30) }
        for period in [1, 30, 300] { _ = try OTPParameters(algorithm: .sha1, digits: 6, period: period) }
        for digits in [-1, 0, 5, 9, 10] {
            guard case .invalidParameter? = thrownError({ () throws(TwoStepError) in try OTPParameters(algorithm: .sha1, digits: digits, period: 30) }) else {
                Issue.record("digits \(digits) accepted")
                continue
            }
        }
        for period in [-30, 0, 301, 3600] {
            guard case .invalidParameter? = thrownError({ () throws(TwoStepError) in try OTPParameters(algorithm: .sha1, digits: 6, period: period) }) else {
                Issue.record("period \(period) accepted")
                continue
            }
        }
        #expect(OTPParameters.standard.algorithm == .sha1)
        #expect(OTPParameters.standard.digits == 6)
        #expect(OTPParameters.standard.period == 30)
    }
}

/// `value` as eight digits with leading zeros.
private func eightDigits(_ value: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
