/// An `otpauth://totp/…` Key URI, the format authenticator apps read from a
/// QR code (Google's "Key Uri Format").
///
/// `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA256&digits=8&period=60`
///
/// Building writes `issuer` always and `algorithm`, `digits`, `period` only
/// when they differ from the defaults (some apps refuse unknown values even
/// when they are the defaults). Parsing is strict about what it understands
/// (type, secret, parameters, duplicates) and ignores parameters it does not
/// know (apps add `image=` and the like).
public struct KeyURI: Sendable, Equatable {
    /// The account name shown in the app, e.g. `alice@host`.
    public var account: String
    /// Who the code is for, e.g. `twostep on host`; may be empty.
    public var issuer: String
    /// The shared secret.
    public var secret: SecretBytes
    /// Algorithm, digits, period.
    public var parameters: OTPParameters

    public init(account: String, issuer: String, secret: SecretBytes, parameters: OTPParameters) {
        self.account = account
        self.issuer = issuer
        self.secret = secret
        self.parameters = parameters
    }

    /// The URI text. It contains the secret: show it to the user, never log it.
    public var uri: String {
        // Without an issuer, an account holding a ':' gets an empty issuer
        // part (":a%3Ab"): the parser reads a label without a literal ':'
        // that decodes to one as "issuer:account" (found by FuzzKeyURI).
        let label = issuer.isEmpty
            ? (account.contains(":") ? ":" : "") + PercentEncoding.encode(account, alsoAllowed: "@")
            : PercentEncoding.encode(issuer, alsoAllowed: "@") + ":" + PercentEncoding.encode(account, alsoAllowed: "@")
        var query = ["secret=" + secret.withUnsafeBytes { Base32.encode($0) }]
        if !issuer.isEmpty { query.append("issuer=" + PercentEncoding.encode(issuer, alsoAllowed: "@")) }
        if parameters.algorithm != OTPParameters.standard.algorithm {
            query.append("algorithm=" + parameters.algorithm.rawValue)
        }
        if parameters.digits != OTPParameters.standard.digits { query.append("digits=\(parameters.digits)") }
        if parameters.period != OTPParameters.standard.period { query.append("period=\(parameters.period)") }
        return "otpauth://totp/" + label + "?" + query.joined(separator: "&")
    }

    /// Parses a Key URI; throws `invalidKeyURI` saying what is wrong.
    public init(parsing text: String) throws(TwoStepError) {
        let prefix = "otpauth://"
        guard text.lowercased().hasPrefix(prefix) else { throw .invalidKeyURI("it must start with otpauth://") }
        let rest = text.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { throw .invalidKeyURI("no type (otpauth://totp/…)") }
        let type = rest[..<slash].lowercased()
        guard type == "totp" else {
            throw .invalidKeyURI(type == "hotp" ? "HOTP (counter-based) keys are not supported; use a TOTP key" : "unknown type '\(type)'")
        }
        let afterType = rest[rest.index(after: slash)...]
        let labelPart: Substring
        let queryPart: Substring
        if let q = afterType.firstIndex(of: "?") {
            labelPart = afterType[..<q]
            queryPart = afterType[afterType.index(after: q)...]
        } else {
            labelPart = afterType
            queryPart = ""
        }
        var params: [String: String] = [:]
        for pair in queryPart.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = kv[0].lowercased()
            guard let value = PercentEncoding.decode(kv.count == 2 ? String(kv[1]) : "", plusIsSpace: true) else {
                throw .invalidKeyURI("bad %-escape in parameter '\(key)'")
            }
            guard params[key] == nil else { throw .invalidKeyURI("parameter '\(key)' appears twice") }
            params[key] = value
        }
        guard let secretText = params["secret"], !secretText.isEmpty else { throw .invalidKeyURI("no secret= parameter") }
        var secretBytes = try Base32.decode(secretText)
        defer { cleanse(&secretBytes) }
        guard secretBytes.count >= 10 else { throw .secretTooShort(bytes: secretBytes.count) }

        var algorithm = OTPParameters.standard.algorithm
        if let a = params["algorithm"] {
            guard let parsed = OTPAlgorithm(name: a) else { throw .invalidKeyURI("unknown algorithm '\(a)' (SHA1, SHA256 or SHA512)") }
            algorithm = parsed
        }
        let digits = try Self.integer(params["digits"], name: "digits", default: OTPParameters.standard.digits)
        let period = try Self.integer(params["period"], name: "period", default: OTPParameters.standard.period)

        // The issuer and account are split at the first literal ':' before
        // decoding, so a ':' written as %3A inside either part survives
        // (the builder writes it that way); a label without a literal ':'
        // may still use %3A as the separator.
        guard let decodedLabel = PercentEncoding.decode(String(labelPart)) else { throw .invalidKeyURI("bad %-escape in the label") }
        var labelIssuer: String?
        var labelAccount = decodedLabel
        if let colon = labelPart.firstIndex(of: ":") {
            guard let i = PercentEncoding.decode(String(labelPart[..<colon])),
                  let a = PercentEncoding.decode(String(labelPart[labelPart.index(after: colon)...])) else {
                throw .invalidKeyURI("bad %-escape in the label")
            }
            labelIssuer = i
            labelAccount = a
        } else if let colon = decodedLabel.firstIndex(of: ":") {
            labelIssuer = String(decodedLabel[..<colon])
            labelAccount = String(decodedLabel[decodedLabel.index(after: colon)...])
        }
        account = labelAccount.trimmingLeadingSpaces()
        if let i = params["issuer"], let l = labelIssuer, !i.isEmpty, i != l {
            throw .invalidKeyURI("the issuer parameter '\(i)' differs from the label's issuer '\(l)'")
        }
        issuer = params["issuer"] ?? labelIssuer ?? ""
        secret = SecretBytes(secretBytes)
        parameters = try OTPParameters(algorithm: algorithm, digits: digits, period: period)
    }

    private static func integer(_ text: String?, name: String, default value: Int) throws(TwoStepError) -> Int {
        guard let text else { return value }
        guard let n = Int(text), n >= 0 else { throw .invalidKeyURI("\(name) must be a number (got '\(text)')") }
        return n
    }
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(drop(while: { $0 == " " }))
    }
}
