/// HOTP (RFC 4226) and TOTP (RFC 6238) code generation.
public enum OTP {
    private static let powersOfTen: [UInt32] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// The HOTP value for `counter`, as `digits` decimal digits with leading zeros.
    public static func hotp(secret: SecretBytes, counter: UInt64, algorithm: OTPAlgorithm, digits: Int) -> String {
        let text = String(values(secret: secret, counters: [counter], algorithm: algorithm, digits: digits)[0])
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The HOTP values for `counters` as numbers below 10^`digits` (a code
    /// with leading zeros is its digits read as a number), the HMAC key
    /// set once for all of them. `digits`: 1 to 8.
    public static func values(secret: SecretBytes, counters: [UInt64], algorithm: OTPAlgorithm, digits: Int) -> [UInt32] {
        var messages = [UInt8](repeating: 0, count: 8 * counters.count)
        for (k, counter) in counters.enumerated() {
            for i in 0..<8 { messages[8 * k + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        }
        var macs = HMAC.authenticate(algorithm, key: secret, messages: messages, each: 8)
        defer { cleanse(&macs) }
        let length = algorithm.digestLength
        return (0..<counters.count).map { k in
            // Dynamic truncation (RFC 4226 section 5.3) of digest k.
            let start = k * length
            let offset = start + Int(macs[start + length - 1] & 0x0f)
            let binary = (UInt32(macs[offset] & 0x7f) << 24) | (UInt32(macs[offset + 1]) << 16)
                | (UInt32(macs[offset + 2]) << 8) | UInt32(macs[offset + 3])
            return binary % powersOfTen[digits]
        }
    }

    /// The TOTP time step that contains `time` (Unix seconds).
    public static func timeStep(at time: Int64, period: Int) -> UInt64 {
        time <= 0 ? 0 : UInt64(time) / UInt64(period)
    }

    /// The TOTP code for time step `step`.
    public static func totp(secret: SecretBytes, step: UInt64, parameters: OTPParameters) -> String {
        hotp(secret: secret, counter: step, algorithm: parameters.algorithm, digits: parameters.digits)
    }

    /// The TOTP code at `time` (Unix seconds).
    public static func totp(secret: SecretBytes, at time: Int64, parameters: OTPParameters) -> String {
        totp(secret: secret, step: timeStep(at: time, period: parameters.period), parameters: parameters)
    }
}
