import Testing
import TwoStepCore

@Suite("KeyURI (otpauth://totp/…)")
struct KeyURITests {
    static func parse(_ text: String) throws(TwoStepError) -> KeyURI { try KeyURI(parsing: text) }

    /// The reason of an `invalidKeyURI` error from parsing `text`, nil otherwise.
    static func invalidKeyURIReason(_ text: String) -> String? {
        guard case .invalidKeyURI(let why)? = thrownError({ () throws(TwoStepError) in try parse(text) }) else { return nil }
        return why
    }

    static let secretParam = "secret=" + rfcKey20Base32

    @Test("the built URI has the documented shape")
    func builtURI() throws {
        let uri = KeyURI(
            account: "alice@host", issuer: "twostep on host", secret: SecretBytes(rfcKey20),
            parameters: try OTPParameters(algorithm: .sha256, digits: 8, period: 60))
        #expect(uri.uri == "otpauth://totp/twostep%20on%20host:alice@host?secret=\(rfcKey20Base32)"
            + "&issuer=twostep%20on%20host&algorithm=SHA256&digits=8&period=60")
    }

    @Test("defaults are left out of the built URI")
    func defaultsOmitted() {
        let uri = KeyURI(account: "alice@host", issuer: "Example", secret: SecretBytes(rfcKey20), parameters: .standard).uri
        #expect(uri == "otpauth://totp/Example:alice@host?secret=\(rfcKey20Base32)&issuer=Example")
        #expect(!uri.contains("algorithm="))
        #expect(!uri.contains("digits="))
        #expect(!uri.contains("period="))
    }

    @Test("each non-default parameter is written on its own", arguments: [
        (OTPAlgorithm.sha512, 6, 30, ["algorithm=SHA512"]),
        (.sha1, 7, 30, ["digits=7"]),
        (.sha1, 6, 15, ["period=15"]),
        (.sha256, 8, 60, ["algorithm=SHA256", "digits=8", "period=60"]),
    ])
    func nonDefaultsPresent(algorithm: OTPAlgorithm, digits: Int, period: Int, present: [String]) throws {
        let uri = KeyURI(account: "a", issuer: "", secret: SecretBytes(rfcKey20),
                         parameters: try OTPParameters(algorithm: algorithm, digits: digits, period: period)).uri
        for name in ["algorithm=", "digits=", "period="] {
            #expect(uri.contains(name) == present.contains { $0.hasPrefix(name) }, "\(name) in \(uri)")
        }
        for p in present { #expect(uri.contains(p), "\(p) in \(uri)") }
    }

    @Test("without an issuer the label is the account alone")
    func noIssuer() {
        let uri = KeyURI(account: "bob", issuer: "", secret: SecretBytes(rfcKey20), parameters: .standard).uri
        #expect(uri == "otpauth://totp/bob?secret=\(rfcKey20Base32)")
    }

    @Test("build → parse round trip", arguments: [
        ("alice@host", "twostep on host"),
        ("bob", ""),
        ("Zoë Müller", "Société Générale"),
        ("a&b=c?d#e%f+g/h", "x&y=z?w#v%u+t"),
        ("用户", "服务器 📱"),
    ])
    func roundTrip(account: String, issuer: String) throws {
        for algorithm in OTPAlgorithm.allCases {
            let secret = SecretBytes(try randomBytes(try randomInt(in: 10...64)))
            let parameters = try OTPParameters(algorithm: algorithm, digits: try randomInt(in: 6...8), period: try randomInt(in: 1...300))
            let built = KeyURI(account: account, issuer: issuer, secret: secret, parameters: parameters)
            let parsed = try Self.parse(built.uri)
            #expect(parsed == built, "\(built.uri)")
            #expect(parsed.account == account)
            #expect(parsed.issuer == issuer)
            #expect(parsed.secret == secret)
            #expect(parsed.parameters == parameters)
        }
    }

    @Test("a typical app URI parses, with the issuer in label and parameter")
    func typicalURI() throws {
        let k = try Self.parse("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example")
        #expect(k.account == "alice@google.com")
        #expect(k.issuer == "Example")
        #expect(k.secret == SecretBytes(try Base32.decode("JBSWY3DPEHPK3PXP")))
        #expect(k.parameters == .standard)
    }

    @Test("the issuer may come from the label or the parameter alone")
    func issuerSources() throws {
        let fromLabel = try Self.parse("otpauth://totp/ACME%20Co:%20john@example.com?\(Self.secretParam)")
        #expect(fromLabel.issuer == "ACME Co")
        #expect(fromLabel.account == "john@example.com")
        let fromParameter = try Self.parse("otpauth://totp/john?\(Self.secretParam)&issuer=ACME+Co")
        #expect(fromParameter.issuer == "ACME Co")
        #expect(fromParameter.account == "john")
        let none = try Self.parse("otpauth://totp/john?\(Self.secretParam)")
        #expect(none.issuer == "")
    }

    @Test("parsing is lenient where apps differ: case, padding, unknown parameters")
    func lenientParsing() throws {
        let k = try Self.parse("OTPAUTH://TOTP/x?SECRET=\(rfcKey20Base32.lowercased())&algorithm=sha512&Digits=8&period=45&image=https%3A%2F%2Fexample.com%2Fa.png")
        #expect(k.secret == SecretBytes(rfcKey20))
        #expect(k.parameters == (try OTPParameters(algorithm: .sha512, digits: 8, period: 45)))
        let padded = try Self.parse("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGE======")
        #expect(padded.secret.count == 11)
    }

    @Test("wrong scheme or type")
    func wrongScheme() throws {
        #expect(Self.invalidKeyURIReason("http://totp/a?\(Self.secretParam)") != nil)
        #expect(Self.invalidKeyURIReason("otpauth:/totp/a?\(Self.secretParam)") != nil)
        #expect(Self.invalidKeyURIReason("otpauth://totp") != nil)
        #expect(Self.invalidKeyURIReason("otpauth://motp/a?\(Self.secretParam)") != nil)
        let hotp = try #require(Self.invalidKeyURIReason("otpauth://hotp/a?\(Self.secretParam)&counter=0"))
        #expect(hotp.contains("HOTP"))
    }

    @Test("missing or empty secret")
    func missingSecret() {
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?issuer=b")?.contains("secret") == true)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?secret=&issuer=b")?.contains("secret") == true)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a")?.contains("secret") == true)
    }

    @Test("bad algorithm")
    func badAlgorithm() {
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&algorithm=MD5")?.contains("algorithm") == true)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&algorithm=")?.contains("algorithm") == true)
    }

    @Test("digits and period out of range or not numbers", arguments: [
        "digits=9", "digits=5", "digits=0", "digits=x", "digits=-6", "digits=", "period=0", "period=301", "period=-30", "period=30s",
    ])
    func badNumbers(parameter: String) {
        let name = String(parameter.prefix { $0 != "=" })
        switch thrownError({ () throws(TwoStepError) in try Self.parse("otpauth://totp/a?\(Self.secretParam)&\(parameter)") }) {
        case .invalidKeyURI(let why)?: #expect(why.contains(name))
        case .invalidParameter(let why)?: #expect(why.contains(name))
        case let other: Issue.record("\(parameter): \(String(describing: other))")
        }
    }

    @Test("a parameter given twice")
    func duplicateParameter() {
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&\(Self.secretParam)")?.contains("twice") == true)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&digits=6&DIGITS=6")?.contains("twice") == true)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&issuer=a&issuer=a")?.contains("twice") == true)
    }

    @Test("issuer in the label and the parameter must agree")
    func mismatchingIssuer() throws {
        #expect(Self.invalidKeyURIReason("otpauth://totp/Alpha:alice?\(Self.secretParam)&issuer=Beta") != nil)
        let agreeing = try Self.parse("otpauth://totp/Alpha:alice?\(Self.secretParam)&issuer=Alpha")
        #expect(agreeing.issuer == "Alpha")
    }

    @Test("a secret shorter than 80 bits, or not Base32")
    func badSecret() {
        // "123456789" is 9 bytes.
        #expect(thrownError { () throws(TwoStepError) in try Self.parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOI") } == .secretTooShort(bytes: 9))
        #expect(thrownError { () throws(TwoStepError) in try Self.parse("otpauth://totp/a?secret=GEZD") } == .secretTooShort(bytes: 2))
        guard case .base32InvalidCharacter? = thrownError({ () throws(TwoStepError) in try Self.parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOJ1") }) else {
            Issue.record("a secret with '1' was accepted")
            return
        }
    }

    @Test("bad %-escapes in label or parameter")
    func badEscapes() {
        #expect(Self.invalidKeyURIReason("otpauth://totp/a%zz?\(Self.secretParam)") != nil)
        #expect(Self.invalidKeyURIReason("otpauth://totp/a?\(Self.secretParam)&issuer=%4") != nil)
    }
}

@Suite struct KeyURIColonTests {
    @Test func colonsInsideIssuerAndAccountSurviveARoundTrip() throws {
        let secret = SecretBytes(try SystemRandom.bytes(20))
        let uri = KeyURI(account: "alice:admin@host", issuer: "Acme: Ops", secret: secret, parameters: .standard)
        let parsed = try KeyURI(parsing: uri.uri)
        #expect(parsed.issuer == "Acme: Ops")
        #expect(parsed.account == "alice:admin@host")
    }

    @Test func anEncodedColonStillSeparatesWhenNoLiteralOneIsThere() throws {
        let parsed = try KeyURI(parsing: "otpauth://totp/Example%3Aalice@google.com?secret=JBSWY3DPEHPK3PXP")
        #expect(parsed.issuer == "Example")
        #expect(parsed.account == "alice@google.com")
    }
}
