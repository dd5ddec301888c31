import TwoStepCore

/// Showing a new authenticator's key to the user and confirming that
/// their app makes the right codes (`enroll`, `add totp`).
enum NewAuthenticator {
    /// Prints the QR code (unless `qr` is false), the otpauth URI and the
    /// secret on standard output: the one time the user sees them.
    static func show(_ key: KeyURI, qr: Bool) throws {
        let uri = key.uri
        if qr {
            Console.out(try TerminalQRCode(encoding: uri).text)
            Console.out()
        }
        Console.out("Scan the QR code with your authenticator app, or enter the key by hand.")
        Console.out("URI:    \(uri)")
        Console.out("Secret: \(grouped(key.secret))")
        let p = key.parameters
        if p != OTPParameters.standard {
            Console.out("        (\(p.algorithm.rawValue), \(p.digits) digits, \(p.period) seconds; time-based)")
        }
        Console.out()
    }

    /// The secret in Base32, in groups of four for typing.
    static func grouped(_ secret: SecretBytes) -> String {
        let text = Array(secret.withUnsafeBytes { Base32.encode($0) })
        return stride(from: 0, to: text.count, by: 4)
            .map { String(text[$0..<min($0 + 4, text.count)]) }
            .joined(separator: " ")
    }

    /// Checks a code from the new app the way a login would (the standard
    /// window) and returns the authenticator with that time step recorded,
    /// so the same code cannot be used again to log in. Throws `refused`
    /// for a wrong code.
    static func confirm(_ authenticator: TOTPAuthenticator, code given: String?, flag: String) throws -> TOTPAuthenticator {
        let code = try given ?? Prompter.ask("Enter the code from your app to confirm: ", flag: flag)
        let result = CodeCheck.verifier.verify(code, in: FactorFile(factors: [authenticator]), at: Clock.now)
        guard case .accepted = result.decision, let confirmed = result.file.authenticators.first else {
            throw CLIError.refused(
                "that is not the code the new authenticator shows now; nothing was saved. Check that the app and this machine have the right time, and try again")
        }
        return confirmed
    }
}
