import Testing
import TwoStepCore

@Suite struct SSHPublicKeyTests {
    @Test(arguments: SKFixtures.all)
    func realKeysParse(_ fixture: KeyFixture) throws {
        let key = try SSHPublicKey(authorizedKeysLine: fixture.line)
        #expect(key.type.rawValue == fixture.type)
        #expect(key.fingerprint == fixture.fingerprint)
        #expect(key.comment == fixture.comment)
        #expect(key.application == fixture.application)
        #expect(key.options.isEmpty)
        #expect(key.base64 == fixture.base64)
        #expect(key.openSSHText == fixture.type + " " + fixture.base64)
        #expect(key.publicKey.count == (key.type == .sshEd25519 ? 32 : 65))
        #expect(key.blob == (try Base64.decode(fixture.base64)))

        // The same key from its blob, and from the TYPE BASE64 pair.
        let fromBlob = try SSHPublicKey(blob: key.blob)
        #expect(fromBlob.fingerprint == fixture.fingerprint && fromBlob.comment == "" && fromBlob.publicKey == key.publicKey)
        #expect(try SSHPublicKey(type: fixture.type, base64: fixture.base64) == fromBlob)
        // A KEY.pub file's content: a final newline, CRLF, and tabs.
        #expect(try SSHPublicKey(authorizedKeysLine: fixture.line + "\n").blob == key.blob)
        #expect(try SSHPublicKey(authorizedKeysLine: "  " + fixture.line + " \r\n").comment == fixture.comment)
        #expect(try SSHPublicKey(authorizedKeysLine: fixture.type + "\t" + fixture.base64).comment == "")
    }

    @Test func theTwoTypes() throws {
        #expect(try SSHPublicKey(authorizedKeysLine: SKFixtures.ed25519Touch.line).type.shortName == "ED25519-SK")
        #expect(try SSHPublicKey(authorizedKeysLine: SKFixtures.ecdsaTouch.line).type.shortName == "ECDSA-SK")
    }

    @Test func commentsKeepTheirSpaces() throws {
        let f = SKFixtures.ed25519Touch
        let key = try SSHPublicKey(authorizedKeysLine: "\(f.type) \(f.base64)  alice@laptop  yubikey 5 ")
        #expect(key.comment == "alice@laptop  yubikey 5")
    }

    @Test func options() throws {
        let f = SKFixtures.ed25519VerifyRequired
        var key = try SSHPublicKey(authorizedKeysLine: "verify-required \(f.line)")
        #expect(key.options.verifyRequired && !key.options.noTouchRequired)
        #expect(key.fingerprint == f.fingerprint && key.comment == f.comment)

        key = try SSHPublicKey(authorizedKeysLine:
            #"No-Touch-Required,command="echo a, b \"quoted\" c\d",from="10.0.0.1,192.168.0.0/16",restrict,environment="A=1 2"\#t"#
            + f.line)
        let o = key.options
        #expect(o.noTouchRequired && !o.verifyRequired && o.restrict && !o.certAuthority)
        #expect(o.values("command") == [#"echo a, b "quoted" c\d"#])
        #expect(o.values("from") == ["10.0.0.1,192.168.0.0/16"])
        #expect(o.values("environment") == ["A=1 2"])
        #expect(o.all.map(\.name) == ["no-touch-required", "command", "from", "restrict", "environment"])
        #expect(key.comment == f.comment && key.fingerprint == f.fingerprint)

        key = try SSHPublicKey(authorizedKeysLine: #"cert-authority,principals="a b" "# + f.line)
        #expect(key.options.certAuthority && key.options.values("principals") == ["a b"])
        // An empty value is a value.
        key = try SSHPublicKey(authorizedKeysLine: #"command="" "# + f.line)
        #expect(key.options.all == [AuthorizedKeyOptions.Option(name: "command", value: "")])
    }

    @Test func malformedOptions() {
        let f = SKFixtures.ed25519VerifyRequired
        func error(_ options: String) -> SecurityKeyError? {
            skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: options + " " + f.line) }
        }
        #expect(error("verify-requird") == .unknownOption("verify-requird"))
        #expect(error("verify-required,bogus") == .unknownOption("bogus"))
        #expect(error(#"bogus="x""#) == .unknownOption("bogus"))
        if case .malformedOption(let why)? = error(#"verify-required="yes""#) { #expect(why.contains("takes no value")) } else { Issue.record() }
        if case .malformedOption(let why)? = error("command=echo") { #expect(why.contains("double quotes")) } else { Issue.record() }
        if case .malformedOption(let why)? = error("command") { #expect(why.contains("needs a value")) } else { Issue.record() }
        if case .malformedOption(let why)? = error(#"command="echo"x"#) { #expect(why.contains("comma or a space")) } else { Issue.record() }
        if case .malformedOption(let why)? = error("restrict,") { #expect(why.contains("after the last comma")) } else { Issue.record() }
        if case .malformedOption(let why)? = error("restrict,,pty") { #expect(why.contains("empty option")) } else { Issue.record() }
        // The quote is never closed: the rest of the line is the value.
        if case .malformedOption(let why)? = error(#"command="echo"#) { #expect(why.contains("no closing quote")) } else { Issue.record() }
        #expect(error(Array(repeating: "pty", count: 65).joined(separator: ",")) == .tooManyOptions(limit: 64))
        #expect(error(Array(repeating: "pty", count: 64).joined(separator: ",")) == nil)
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: "restrict,pty") }
            == .missingField("the key type after the options"))
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: #"command="a b c""#) }
            == .missingField("the key type after the options"))
    }

    @Test func otherKeyTypesAreNamed() {
        func error(_ line: String) -> SecurityKeyError? {
            skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: line) }
        }
        #expect(error(SKFixtures.plainEd25519) == .notASecurityKey(type: "ssh-ed25519"))
        #expect(error(SKFixtures.rsa) == .notASecurityKey(type: "ssh-rsa"))
        #expect(error(SKFixtures.ecdsa) == .notASecurityKey(type: "ecdsa-sha2-nistp256"))
        #expect(error("restrict,verify-required " + SKFixtures.plainEd25519) == .notASecurityKey(type: "ssh-ed25519"))
        #expect(error("ssh-ed448 AAAA") == .notASecurityKey(type: "ssh-ed448"))
        #expect(error("sk-ssh-ed25519-cert-v01@openssh.com AAAA") == .notASecurityKey(type: "sk-ssh-ed25519-cert-v01@openssh.com"))
        #expect(error("SK-SSH-ED25519@OPENSSH.COM AAAA") == .notASecurityKey(type: "SK-SSH-ED25519@OPENSSH.COM"))
        let message = error(SKFixtures.rsa)?.description ?? ""
        #expect(message.contains("'ssh-rsa' is not a security key type") && message.contains("sk-ssh-ed25519@openssh.com"))
        // Via TYPE BASE64 and via the blob.
        let plain = SKFixtures.plainEd25519.split(separator: " ").map(String.init)
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(type: plain[0], base64: plain[1]) }
            == .notASecurityKey(type: "ssh-ed25519"))
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: try! Base64.decode(plain[1])) }
            == .notASecurityKey(type: "ssh-ed25519"))
        // A plain key's blob under an sk name.
        #expect(error("sk-ssh-ed25519@openssh.com " + plain[1]) == .typeMismatch(outer: "sk-ssh-ed25519@openssh.com", inner: "ssh-ed25519"))
        // Escaped in the message.
        #expect(error("\u{1B}[31mevil AAAA") == .controlCharacter(offset: 0))
        #expect(SecurityKeyError.notASecurityKey(type: "a\u{202E}b").description.hasPrefix("'a\\u{202E}b'"))
    }

    @Test func typeMismatchBetweenTheTwoSKTypes() {
        let ed = SKFixtures.ed25519Touch, ec = SKFixtures.ecdsaTouch
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: "\(ec.type) \(ed.base64)") }
            == .typeMismatch(outer: ec.type, inner: ed.type))
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(type: ed.type, base64: ec.base64) }
            == .typeMismatch(outer: ed.type, inner: ec.type))
    }

    @Test func malformedBase64() {
        let f = SKFixtures.ed25519Touch
        func error(_ base64: String) -> SecurityKeyError? {
            skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: "\(f.type) \(base64) c") }
        }
        #expect(error(String(f.base64.dropLast())) == .invalidBase64(.invalidLength(f.base64.count - 1)))
        #expect(error(f.base64.replacingFirst("A", with: "!")) == .invalidBase64(.invalidCharacter(UInt8(ascii: "!"), position: 0)))
        #expect(error(f.base64.replacingFirst("A", with: "é")) != nil)
        #expect(error(String(f.base64.dropLast(2)) + "p=") == .invalidBase64(.nonZeroPaddingBits))  // "o=" is the canonical end
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: f.type) }
            == .missingField("the key's Base64 text after its type"))
    }

    @Test func truncatedAndTrailingBlobs() throws {
        let blob = try Base64.decode(SKFixtures.ed25519Touch.base64)
        for n in 0..<blob.count {
            let error = skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: Array(blob.prefix(n))) }
            guard case .truncatedBlob? = error else {
                Issue.record("\(n) bytes: \(String(describing: error))")
                continue
            }
        }
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: blob + [0]) } == .trailingBytes(count: 1))
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: blob + sshString("x")) } == .trailingBytes(count: 5))
        let line = "\(SKFixtures.ed25519Touch.type) \(Base64.encode(Array(blob.dropLast(3))))"
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: line) } == .truncatedBlob(field: "application"))
        // A length field of 2^32 - 1 is only a truncation, never an allocation.
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: [0xFF, 0xFF, 0xFF, 0xFF, 0]) } == .truncatedBlob(field: "type"))
    }

    @Test func fieldsAreChecked() {
        let ed = "sk-ssh-ed25519@openssh.com", ec = "sk-ecdsa-sha2-nistp256@openssh.com"
        func error(_ blob: [UInt8]) -> SecurityKeyError? {
            skError { () throws(SecurityKeyError) in try SSHPublicKey(blob: blob) }
        }
        let pk = [UInt8](repeating: 7, count: 32), point = [0x04] + [UInt8](repeating: 9, count: 64)
        #expect(error(sshString(ed) + sshString(pk) + sshString("ssh:")) == nil)
        #expect(error(sshString(ed) + sshString(Array(pk.dropLast())) + sshString("ssh:"))
            == .invalidField(field: "Ed25519 public key", reason: "is 31 bytes long, not 32"))
        #expect(error(sshString(ec) + sshString("nistp256") + sshString(point) + sshString("ssh:")) == nil)
        if case .invalidField(let field, _)? = error(sshString(ec) + sshString("nistp384") + sshString(point) + sshString("ssh:")) {
            #expect(field == "curve name")
        } else { Issue.record() }
        var compressed = point; compressed[0] = 0x02
        if case .invalidField(let field, _)? = error(sshString(ec) + sshString("nistp256") + sshString(compressed) + sshString("ssh:")) {
            #expect(field == "P-256 point")
        } else { Issue.record() }
        for app in ["", "web:", "https://example.com", "ssh:\u{7}", "ssh:\u{7F}", "ssh:é", "ssh:" + String(repeating: "a", count: 253)] {
            if case .invalidField(let field, _)? = error(sshString(ed) + sshString(pk) + sshString(app)) {
                #expect(field == "application")
            } else { Issue.record("application \(app.debugDescription) accepted") }
        }
        #expect(error(sshString(ed) + sshString(pk) + sshString("ssh:" + String(repeating: "a", count: 252))) == nil)
        #expect(error(sshString(ed) + sshString(pk) + sshString("ssh:with space")) == nil)
        #expect(error([UInt8](repeating: 0, count: 16 * 1024 + 1)) == .blobTooLong(bytes: 16 * 1024 + 1, limit: 16 * 1024))
    }

    @Test func linesThatHoldNoKey() {
        func error(_ line: String) -> SecurityKeyError? {
            skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: line) }
        }
        #expect(error("") == .noKey)
        #expect(error("   \t \n") == .noKey)
        #expect(error("# " + SKFixtures.ed25519Touch.line) == .noKey)
        #expect(error(SKFixtures.ed25519Touch.line + "\nsecond line") == .controlCharacter(offset: SKFixtures.ed25519Touch.line.utf8.count))
        #expect(error("sk-ssh-ed25519@openssh.com\u{0}AAAA") == .controlCharacter(offset: 26))
    }

    @Test func overlongLinesAreRefusedFirstAndFast() {
        let f = SKFixtures.ed25519Touch
        let exactly = f.line + String(repeating: "x", count: SSHPublicKey.maxLineBytes - f.line.utf8.count)
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: exactly) } == nil)
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: exactly + "x") }
            == .lineTooLong(bytes: 16 * 1024 + 1, limit: 16 * 1024))
        let huge = f.line + String(repeating: "A", count: 1_000_000)
        let clock = ContinuousClock()
        var error: SecurityKeyError?
        let took = clock.measure {
            for _ in 0..<100 { error = skError { () throws(SecurityKeyError) in try SSHPublicKey(authorizedKeysLine: huge) } }
        }
        #expect(error == .lineTooLong(bytes: huge.utf8.count, limit: 16 * 1024))
        #expect(took < .milliseconds(100), "100 refusals of a 1 MB line took \(took)")
    }

    @Test func hugeBase64IsRefusedBeforeDecoding() {
        let huge = String(repeating: "A", count: 1_000_000)
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(type: "sk-ssh-ed25519@openssh.com", base64: huge) }
            == .blobTooLong(bytes: 750_000, limit: 16 * 1024))
        #expect(skError { () throws(SecurityKeyError) in try SSHPublicKey(type: "ssh-ed25519", base64: huge) }
            == .notASecurityKey(type: "ssh-ed25519"))
    }

    @Test func matchingIsWholeBlob() throws {
        let a = try SSHPublicKey(authorizedKeysLine: SKFixtures.ed25519VerifyRequired.line)
        let b = try SSHPublicKey(authorizedKeysLine: SKFixtures.ed25519Touch.line)
        #expect(a.matches(blob: a.blob) && !a.matches(blob: b.blob))
        #expect(!a.matches(blob: Array(a.blob.dropLast())) && !a.matches(blob: a.blob + [0]) && !a.matches(blob: []))
        var flipped = a.blob; flipped[flipped.count - 1] ^= 1
        #expect(!a.matches(blob: flipped))
    }
}

extension String {
    func replacingFirst(_ target: Character, with replacement: String) -> String {
        guard let i = firstIndex(of: target) else { return self }
        return String(self[..<i]) + replacement + String(self[index(after: i)...])
    }
}
