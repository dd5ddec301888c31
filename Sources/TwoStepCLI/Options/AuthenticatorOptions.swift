import ArgumentParser
import TwoStepCore

/// How a new authenticator is made: its secret and parameters, and how it
/// is shown (for `enroll` and `add totp`).
struct AuthenticatorOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Use this secret (Base32) instead of generating a new 20-byte one. Command-line arguments can be seen by other local users while the command runs: '-' reads the secret from standard input instead (one line, before a --uri - line, a --code - line and any answer to a question).",
            valueName: "base32"))
    var secret: String?

    @Option(
        help: ArgumentHelp(
            "Take the secret and parameters from an otpauth://totp/… key URI (as exported by another service) instead of generating them. '-' reads the URI from standard input (one line, after a --secret - line), out of sight of other local users.",
            valueName: "otpauth-uri"))
    var uri: String?

    @Option(help: ArgumentHelp("The hash the app uses: SHA1 (the default, what every app supports), SHA256 or SHA512.", valueName: "name"))
    var algorithm: AlgorithmArgument?

    @Option(help: ArgumentHelp("Digits per code, 6 (the default) to 8.", valueName: "n"))
    var digits: Int?

    @Option(help: ArgumentHelp("Seconds each code is valid, 1 to 300 (default 30).", valueName: "seconds"))
    var period: Int?

    @Option(help: ArgumentHelp("A name for this authenticator in twostep's listings, e.g. \"Phone\".", valueName: "text"))
    var label: String = "authenticator"

    @Option(help: ArgumentHelp("The issuer the app shows next to the account (default: \"twostep on HOSTNAME\").", valueName: "text"))
    var issuer: String?

    @Flag(name: .customLong("no-qr"), help: "Do not draw the QR code; show only the otpauth URI and the secret.")
    var noQR = false

    /// Replaces a `--secret -` and a `--uri -` with a line each from
    /// standard input, in that order (values given as arguments can be
    /// read by any local user in /proc/PID/cmdline while the command runs).
    mutating func readStandardInput() throws {
        if secret == "-" { secret = try Prompter.line(for: "--secret") }
        if uri == "-" { uri = try Prompter.line(for: "--uri") }
    }

    func validate() throws {
        if secret != nil && uri != nil { throw ValidationError("give --secret or --uri, not both") }
        if uri != nil && (algorithm != nil || digits != nil || period != nil || issuer != nil) {
            throw ValidationError("--uri carries the algorithm, digits, period and issuer: do not give them as flags too")
        }
        if let digits, !OTPParameters.digitRange.contains(digits) { throw ValidationError("--digits must be 6, 7 or 8") }
        if let period, !OTPParameters.periodRange.contains(period) { throw ValidationError("--period must be 1 to 300 seconds") }
        if let problem = PrintableText.problem(inLabel: label, what: "--label") { throw ValidationError(problem) }
        if let issuer, let problem = PrintableText.problem(inLabel: issuer, what: "--issuer") { throw ValidationError(problem) }
    }

    /// The key to give the app: from `--uri`, or the flags with `--secret`
    /// or a new random secret. The account is `user@hostname`.
    func makeKey(for account: Account) throws -> KeyURI {
        let hostname = Account.hostname
        if let uri {
            var key = try KeyURI(parsing: uri)
            for (text, what) in [(key.issuer, "the URI's issuer"), (key.account, "the URI's account")] {
                if let problem = PrintableText.problem(in: text, what: what) { throw ValidationError(problem) }
            }
            if key.account.isEmpty { key.account = "\(account.name)@\(hostname)" }
            return key
        }
        let bytes: [UInt8]
        if let secret {
            bytes = try Base32.decode(secret)
            guard bytes.count >= 10 else { throw TwoStepError.secretTooShort(bytes: bytes.count) }
        } else {
            bytes = try SystemRandom.bytes(20)
        }
        var copy = bytes
        defer { cleanse(&copy) }
        let parameters = try OTPParameters(
            algorithm: algorithm?.algorithm ?? OTPParameters.standard.algorithm,
            digits: digits ?? OTPParameters.standard.digits,
            period: period ?? OTPParameters.standard.period)
        return KeyURI(
            account: "\(account.name)@\(hostname)", issuer: issuer ?? "twostep on \(hostname)",
            secret: SecretBytes(copy), parameters: parameters)
    }
}
