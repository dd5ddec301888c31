import Testing
@testable import TwoStepCore

/// The security-key step of a login (SPEC §11): an enrolled key reported
/// in `SSH_AUTH_INFO_0` replaces the code, whatever the lock-out; anything
/// else leaves the usual flow.
@Suite("SecurityKeyLogin: an enrolled key as the second step")
struct SecurityKeyLoginTests {
    static let now: Int64 = 1_764_300_000
    static let enrolled = SKFixtures.ed25519VerifyRequired

    /// An authenticator, a backup code and the verify-required ed25519-sk key (`key-1`).
    static func file(keys: [KeyFixture] = [enrolled]) throws -> FactorFile {
        var factors: [any Factor] = [
            makeAuthenticator(),
            BackupCode(id: "backup-1", salt: Array(repeating: 1, count: 16), hash: Array(repeating: 2, count: 32), created: 5),
        ]
        for (i, fixture) in keys.enumerated() {
            factors.append(SecurityKey(id: "key-\(i + 1)", key: try fixture.key(), label: fixture.comment, created: 1_764_220_800))
        }
        return FactorFile(factors: factors)
    }

    static func decide(_ file: FactorFile, _ authInfo: String?, policy: SecurityKeyPolicy = .touch) -> SecurityKeyLogin.Outcome {
        SecurityKeyLogin(policy: policy).decide(file: file, authInfo: authInfo, at: now)
    }

    /// The reason of a `.notApplicable` outcome, nil for an acceptance.
    static func reason(_ outcome: SecurityKeyLogin.Outcome) -> SecurityKeyLogin.NotApplicable? {
        if case .notApplicable(let reason) = outcome { return reason }
        return nil
    }

    @Test("the captured auth-stack value with the enrolled key: accepted, last-used is now, nothing else changed",
          arguments: [SecurityKeyPolicy.touch, .verify])
    func accepted(_ policy: SecurityKeyPolicy) throws {
        let file = try Self.file()
        let outcome = Self.decide(file, SKFixtures.authInfoAuthStack, policy: policy)
        guard case .accepted(let id, let updated) = outcome else { Issue.record("\(outcome)"); return }
        #expect(id == "key-1")
        #expect(updated.securityKeys.first?.lastUsed == Self.now)
        var expected = file
        var key = file.securityKeys[0]
        key.lastUsed = Self.now
        expected.factors[2] = key
        #expect(updated == expected)
        #expect(updated.failures == file.failures)
        // Stored and read back, the use is there.
        #expect(try FactorFile(parsing: updated.text).securityKeys.first?.lastUsed == Self.now)
    }

    @Test("every enrolled key is a candidate: the one the login used is the one accepted")
    func severalKeys() throws {
        let file = try Self.file(keys: [SKFixtures.ed25519Touch, SKFixtures.ecdsaTouch, SKFixtures.ecdsaVerifyRequired])
        let outcome = Self.decide(file, SKFixtures.ecdsaVerifyRequired.authInfo)
        guard case .accepted(let id, let updated) = outcome else { Issue.record("\(outcome)"); return }
        #expect(id == "key-3")
        #expect(updated.securityKeys.map(\.lastUsed) == [nil, nil, Self.now])
        // `publickey,publickey`: the second of the two keys is enrolled.
        let two = try Self.file(keys: [SKFixtures.ecdsaVerifyRequired])
        guard case .accepted(let second, _) = Self.decide(two, SKFixtures.authInfoTwoKeys) else {
            Issue.record("the second publickey method's key was not found")
            return
        }
        #expect(second == "key-1")
    }

    @Test("a lock-out does not stop a key: neither the count nor the lock-out is read or changed")
    func lockedOutFileStillMatches() throws {
        var file = try Self.file()
        file.failures = FailureState(count: 5, lockedUntil: Self.now + 200, last: Self.now - 100, lastAccepted: Self.now - 9000)
        #expect(Verifier().lockout(in: file, at: Self.now) != nil, "the fixture is locked out")
        guard case .accepted(let id, let updated) = Self.decide(file, SKFixtures.authInfoAuthStack) else {
            Issue.record("a locked-out user's key was refused")
            return
        }
        #expect(id == "key-1")
        #expect(updated.failures == file.failures)
    }

    @Test("security_keys=off: never, whatever the key")
    func policyOff() throws {
        let outcome = Self.decide(try Self.file(), SKFixtures.authInfoAuthStack, policy: .off)
        #expect(Self.reason(outcome) == .policyOff)
        #expect(Self.reason(outcome)?.description == "security keys are off (security_keys=off)")
        #expect(!SecurityKeyPolicy.off.isOn && SecurityKeyPolicy.touch.isOn && SecurityKeyPolicy.verify.isOn)
    }

    @Test("no key enrolled, or no SSH_AUTH_INFO_0: not applicable")
    func nothingToCompare() throws {
        #expect(Self.reason(Self.decide(FactorFile(factors: [makeAuthenticator()]), SKFixtures.authInfoAuthStack)) == .noKeyEnrolled)
        let file = try Self.file()
        #expect(Self.reason(Self.decide(file, nil)) == .noAuthInfo)
        #expect(Self.reason(Self.decide(file, "")) == .noAuthInfo)
    }

    @Test("a key that is not enrolled, with the same type, is no match; the log names its fingerprint")
    func notEnrolled() throws {
        let file = try Self.file()
        for other in [SKFixtures.ed25519Touch, SKFixtures.ed25519NoTouch, SKFixtures.ed25519Application, SKFixtures.ecdsaTouch] {
            let outcome = Self.decide(file, other.authInfo)
            #expect(Self.reason(outcome) == .notEnrolled(fingerprints: [other.fingerprint]), "\(other.comment)")
            #expect(Self.reason(outcome)?.description == "the login's security key is not enrolled (\(other.fingerprint))")
        }
    }

    @Test("a plain key (ssh-ed25519, password after it) never counts")
    func plainKey() throws {
        let file = try Self.file()
        let outcome = Self.decide(file, SKFixtures.authInfoPlainKeyPassword)
        #expect(Self.reason(outcome) == .notASecurityKey(types: ["ssh-ed25519"]))
        #expect(Self.reason(outcome)?.description == "the login's key is not a security key ('ssh-ed25519')")
        let rsa = SKFixtures.rsa.split(separator: " ")
        #expect(Self.reason(Self.decide(file, "publickey \(rsa[0]) \(rsa[1])\n")) == .notASecurityKey(types: ["ssh-rsa"]))
    }

    @Test("no publickey method before this one: password, keyboard-interactive, hostbased")
    func noPublicKeyMethod() throws {
        let file = try Self.file()
        let key = Self.enrolled
        for value in [
            "password\n",
            "keyboard-interactive/pam\n",
            // The enrolled key, but as a host key: not the user's publickey method.
            "hostbased \(key.type) \(key.base64)\n",
            // The key's text as a method's info: not a key at all.
            "keyboard-interactive/pam \(key.type) \(key.base64)\n",
        ] {
            #expect(Self.reason(Self.decide(file, value)) == .noPublicKey, "\(value)")
        }
    }

    /// The enrolled key's blob with its application replaced: the same
    /// Ed25519 public key, another blob.
    static func blob(application: String) throws -> [UInt8] {
        let blob = try Base64.decode(enrolled.base64)
        return Array(blob.prefix(66)) + sshString(application)
    }

    @Test("spoofed values: the same public key in another blob, a blob under another type name, extra bytes")
    func spoofed() throws {
        let file = try Self.file()
        let type = Self.enrolled.type
        // Same Ed25519 key, other application: the whole blob is compared, so no match.
        let otherApp = Base64.encode(try Self.blob(application: "ssh:other"))
        let outcome = Self.decide(file, "publickey \(type) \(otherApp)\n")
        guard case .notApplicable(.notEnrolled(let fingerprints)) = outcome else { Issue.record("\(outcome)"); return }
        #expect(fingerprints.count == 1 && fingerprints[0] != Self.enrolled.fingerprint)
        // The enrolled blob under a plain type name, or under the other sk type: refused whole.
        for wrongType in ["ssh-ed25519", "sk-ecdsa-sha2-nistp256@openssh.com"] {
            guard case .unreadableAuthInfo(let error)? = Self.reason(Self.decide(file, "publickey \(wrongType) \(Self.enrolled.base64)\n")) else {
                Issue.record("a blob under the type name \(wrongType) was not refused")
                continue
            }
            #expect(error.description.contains("holds a 'sk-ssh-ed25519@openssh.com' key"))
        }
        // The enrolled blob with a byte after it, or cut short: refused, never matched by prefix.
        let blob = try Base64.decode(Self.enrolled.base64)
        for changed in [blob + [0], Array(blob.dropLast())] {
            let reason = Self.reason(Self.decide(file, "publickey \(type) \(Base64.encode(changed))\n"))
            guard case .unreadableAuthInfo? = reason else { Issue.record("\(String(describing: reason))"); continue }
        }
    }

    @Test("garbled values are refused whole, even when the enrolled key is on a line of them", arguments: [
        // No final newline (sshd always writes one).
        String(SKFixtures.authInfoAuthStack.dropLast()),
        // A doubled space, a space in front, a CR, an empty line first.
        SKFixtures.authInfoAuthStack.replacing(" AAAA", with: "  AAAA"),
        " " + SKFixtures.authInfoAuthStack,
        SKFixtures.authInfoAuthStack.replacing("\n", with: "\r\n"),
        "\n" + SKFixtures.authInfoAuthStack,
        // A line of junk before it, a NUL after it.
        "publickey\n" + SKFixtures.authInfoAuthStack,
        SKFixtures.authInfoAuthStack + "x\u{0}y\n",
        // Padding dropped or non-canonical Base64.
        SKFixtures.authInfoAuthStack.replacing("=\n", with: "\n"),
        SKFixtures.authInfoAuthStack.replacing("Do=\n", with: "Dp=\n"),
        // More than sshd's 32 methods.
        String(repeating: "password\n", count: 40) + SKFixtures.authInfoAuthStack,
    ])
    func garbled(_ value: String) throws {
        let reason = Self.reason(Self.decide(try Self.file(), value))
        guard case .unreadableAuthInfo(let error)? = reason else {
            Issue.record("accepted or misread: \(String(describing: reason))")
            return
        }
        #expect(reason?.description.hasPrefix("SSH_AUTH_INFO_0 is not what sshd writes: ") == true)
        #expect(!error.description.isEmpty)
    }

    @Test("the session stack's value (publickey then keyboard-interactive) names the key too")
    func sessionStackValue() throws {
        // The module reads the value in pam_sm_authenticate only; the function itself takes any value sshd writes.
        guard case .accepted = Self.decide(try Self.file(), SKFixtures.authInfoSessionStack) else {
            Issue.record("the enrolled key on the first of two lines was not found")
            return
        }
    }

    @Test("reasons hold no control characters from the value: hostile text is escaped")
    func reasonsAreLoggable() throws {
        let hostile = "publickey sk-ssh-ed25519@openssh.com AAAA\u{1b}[31m\n"
        let reason = try #require(Self.reason(Self.decide(try Self.file(), hostile)))
        #expect(!reason.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "\(reason)")
    }
}
