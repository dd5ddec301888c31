import TwoStepAccounts
import TwoStepCore

/// Showing a new authenticator's key to the user and asking for the code
/// their app then makes (`enroll`, `add totp`); the service checks it.
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

    /// The key as the service takes it (Base32 secret and parameters).
    static func request(_ key: KeyURI, label: String) -> NewKey {
        NewKey(secret: key.secret.withUnsafeBytes { Base32.encode($0) }, algorithm: key.parameters.algorithm.rawValue,
               digits: key.parameters.digits, period: key.parameters.period, label: label)
    }

    /// The code the new app shows, from `given` or asked for.
    static func code(_ given: String?, flag: String) throws -> String {
        try given ?? Prompter.ask("Enter the code from your app to confirm: ", flag: flag)
    }
}
