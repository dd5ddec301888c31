/// HOTP (RFC 4226) and TOTP (RFC 6238) code generation.
public enum OTP {
    private static let powersOfTen: [UInt32] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// The HOTP value for `counter`, as `digits` decimal digits with leading zeros.
    public static func hotp(secret: SecretBytes, counter: UInt64, algorithm: OTPAlgorithm, digits: Int) -> String {
        var message = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { message[i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        var mac = HMAC.authenticate(algorithm, key: secret, message: message)
        // Dynamic truncation (RFC 4226 section 5.3).
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        cleanse(&mac)
        let value = binary % powersOfTen[digits]
        let text = String(value)
        return String(repeating: "0", count: digits - text.count) + text
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
