import Testing
import TwoStepCore

@Suite struct SSHAuthInfoTests {
    @Test func capturedAuthStack() throws {
        let info = try SSHAuthInfo(parsing: SKFixtures.authInfoAuthStack)
        let key = try SSHPublicKey(authorizedKeysLine: SKFixtures.ed25519VerifyRequired.line)
        #expect(info.methods.count == 1)
        #expect(info.methods[0].name == "publickey" && info.methods[0].submethod == nil && info.methods[0].info == nil)
        #expect(info.methods[0].key?.type == "sk-ssh-ed25519@openssh.com" && info.methods[0].key?.blob == key.blob)
        #expect(info.publicKeyBlobs == [key.blob])
        #expect(info.securityKeys.map(\.fingerprint) == [SKFixtures.ed25519VerifyRequired.fingerprint])
        #expect(key.matches(blob: info.publicKeyBlobs[0]))
        #expect(info.text == SKFixtures.authInfoAuthStack)
    }

    @Test func capturedSessionStack() throws {
        let info = try SSHAuthInfo(parsing: SKFixtures.authInfoSessionStack)
        #expect(info.methods.map(\.name) == ["publickey", "keyboard-interactive"])
        #expect(info.methods[1].submethod == "pam" && info.methods[1].key == nil && info.methods[1].info == nil)
        #expect(info.securityKeys.count == 1 && info.publicKeyBlobs.count == 1)
        #expect(info.text == SKFixtures.authInfoSessionStack)
    }

    @Test func capturedTwoKeys() throws {
        let info = try SSHAuthInfo(parsing: SKFixtures.authInfoTwoKeys)
        #expect(info.securityKeys.map(\.fingerprint)
            == [SKFixtures.ed25519VerifyRequired.fingerprint, SKFixtures.ecdsaVerifyRequired.fingerprint])
        #expect(info.securityKeys.map(\.type) == [.sshEd25519, .ecdsaP256])
        #expect(info.text == SKFixtures.authInfoTwoKeys)
    }

    @Test func capturedPlainKeyAndPassword() throws {
        let info = try SSHAuthInfo(parsing: SKFixtures.authInfoPlainKeyPassword)
        #expect(info.methods.map(\.name) == ["publickey", "password"])
        #expect(info.securityKeys.isEmpty)
        #expect(info.publicKeyBlobs == [try Base64.decode(String(SKFixtures.plainEd25519.split(separator: " ")[1]))])
        #expect(info.methods[0].key?.type == "ssh-ed25519")
        #expect(info.text == SKFixtures.authInfoPlainKeyPassword)
    }

    @Test func emptyValueListsNothing() throws {
        #expect(try SSHAuthInfo(parsing: "").methods.isEmpty)
        #expect(try SSHAuthInfo(parsing: "").securityKeys.isEmpty)
    }

    @Test func otherMethodsAndInfo() throws {
        // A certificate login: sshd adds the certificate's details after the key.
        let cert = Base64.encode(sshString("ssh-ed25519-cert-v01@openssh.com") + [1, 2, 3])
        let text = "publickey ssh-ed25519-cert-v01@openssh.com \(cert) ID alice (serial 7) CA ED25519 SHA256:abc\n"
            + "hostbased ssh-ed25519 \(SKFixtures.plainEd25519.split(separator: " ")[1])\n"
            + "gssapi-with-mic\nkeyboard-interactive/bsdauth\npassword\n"
        let info = try SSHAuthInfo(parsing: text)
        #expect(info.methods.map(\.name) == ["publickey", "hostbased", "gssapi-with-mic", "keyboard-interactive", "password"])
        #expect(info.methods[0].info == "ID alice (serial 7) CA ED25519 SHA256:abc")
        #expect(info.publicKeyBlobs.count == 1)  // hostbased keys are the host's, not the user's
        #expect(info.securityKeys.isEmpty)
        #expect(info.text == text)
    }

    @Test(arguments: [
        ("publickey sk-ssh-ed25519@openssh.com AAAA", "no newline"),  // no final newline
        ("\n", "an empty line"),
        ("password\n\npassword\n", "an empty line"),
        (" password\n", "begins with a space"),
        ("password \n", "stray spaces"),
        ("keyboard-interactive/pam  x\n", "stray spaces"),
        ("pass word\n", nil),  // "word" is info: allowed for methods without a key
        ("pass\u{7}word\n", "control character"),
        ("password\r\n", "control character"),
        ("publickey\n", "without its key"),
        ("publickey sk-ssh-ed25519@openssh.com\n", "needs 'KEYTYPE BASE64'"),
        ("publickey  sk-ssh-ed25519@openssh.com AAAA\n", "needs 'KEYTYPE BASE64'"),
        ("publickey sk-ssh-ed25519@openssh.com AAA\n", "Base64"),
        ("publickey sk-ssh-ed25519@openssh.com AAAA\n", "ends inside"),
        ("pub/lic/key\n", "not a method name"),
        ("/pam\n", "not a method name"),
        ("keyboard-interactive/\n", "not a method name"),
        ("p\u{E9}\n", "not a method name"),
        ("publickey ssh-\u{E9}d25519 AAAA\n", "not a key type"),
    ] as [(String, String?)])
    func malformed(_ text: String, _ reason: String?) {
        let error = skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: text) }
        if let reason {
            guard case .malformedAuthInfo(_, let why)? = error else {
                Issue.record("\(text.debugDescription): \(String(describing: error))")
                return
            }
            #expect(why.contains(reason), "\(text.debugDescription): \(why)")
        } else {
            #expect(error == nil)
        }
    }

    @Test func keysMustBeWhatTheyAreNamed() throws {
        let sk = SKFixtures.ed25519Touch, plain = String(SKFixtures.plainEd25519.split(separator: " ")[1])
        func reason(_ text: String) -> String? {
            guard case .malformedAuthInfo(_, let why)? = skError({ () throws(SecurityKeyError) in try SSHAuthInfo(parsing: text) })
            else { return nil }
            return why
        }
        #expect(reason("publickey ssh-ed25519 \(sk.base64)\n")?.contains("holds a 'sk-ssh-ed25519@openssh.com' key") == true)
        #expect(reason("publickey \(sk.type) \(plain)\n")?.contains("holds a 'ssh-ed25519' key") == true)
        // An sk-typed blob is read in full: trailing bytes refuse the value.
        let blob = try Base64.decode(sk.base64) + [0]
        #expect(reason("publickey \(sk.type) \(Base64.encode(blob))\n")?.contains("unexpected byte") == true)
        // The line number is given.
        if case .malformedAuthInfo(let line, _)? = skError({ () throws(SecurityKeyError) in try SSHAuthInfo(parsing: "password\npublickey\n") }) {
            #expect(line == 2)
        } else { Issue.record() }
    }

    @Test func capsOnSizeAndCount() throws {
        let many = String(repeating: "password\n", count: 32)
        #expect(try SSHAuthInfo(parsing: many).methods.count == 32)
        #expect(skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: many + "password\n") } == .tooManyMethods(limit: 32))
        let long = "password " + String(repeating: "x", count: 32 * 1024) + "\n"
        #expect(skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: long) }
            == .authInfoTooLong(bytes: long.utf8.count, limit: 32 * 1024))
        let huge = String(repeating: "p", count: 1_000_000)
        let clock = ContinuousClock()
        let took = clock.measure { for _ in 0..<100 { _ = skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: huge) } } }
        #expect(took < .milliseconds(100), "100 refusals of a 1 MB value took \(took)")
        #expect(skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: String(repeating: "a", count: 65) + "\n") } != nil)
        #expect(skError { () throws(SecurityKeyError) in try SSHAuthInfo(parsing: String(repeating: "a", count: 64) + "\n") } == nil)
    }
}
