import Testing
@testable import TwoStepCore

/// The `sshkey` line of the factor file (SPEC §11): an enrolled OpenSSH
/// FIDO key, read in full and written byte-stably.
@Suite("SecurityKey: the sshkey factor line")
struct SecurityKeyFactorTests {
    static let head = "# twostep factor file\ntwostep 1\n"
    static let totpLine = "totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=Phone created=1764220800"

    /// A file in the writer's form: an authenticator, a backup code, two keys.
    static func file() throws -> FactorFile {
        FactorFile(factors: [
            makeAuthenticator(),
            BackupCode(id: "backup-1", salt: Array(repeating: 1, count: 16), hash: Array(repeating: 2, count: 32), created: 5),
            SecurityKey(id: "key-1", key: try SKFixtures.ed25519VerifyRequired.key(), label: "YubiKey 5", created: 1_764_220_800),
            SecurityKey(id: "key-2", key: try SKFixtures.ecdsaTouch.key(), label: "Backup key", created: 1_764_220_900,
                        lastUsed: 1_764_221_000),
        ])
    }

    @Test("the line as written: type, unpadded Base64 blob, %-encoded label, optional last-used")
    func writtenForm() throws {
        let text = try Self.file().text
        let ed = SKFixtures.ed25519VerifyRequired, ec = SKFixtures.ecdsaTouch
        #expect(text.contains("\nsshkey id=key-1 type=sk-ssh-ed25519@openssh.com key=\(ed.unpaddedBase64) label=YubiKey%205 created=1764220800\n"))
        #expect(text.contains("\nsshkey id=key-2 type=sk-ecdsa-sha2-nistp256@openssh.com key=\(ec.unpaddedBase64) label=Backup%20key created=1764220900 last-used=1764221000\n"))
        #expect(!text.contains("%3D"), "no padding, so no escaped '='")
        #expect(ed.unpaddedBase64.count == ed.base64.count - 1 && ec.unpaddedBase64.count == ec.base64.count - 2)
    }

    @Test("parse → write → parse keeps every field, for every fixture key")
    func roundTrip() throws {
        for (i, fixture) in SKFixtures.all.enumerated() {
            let text = Self.head + Self.totpLine + "\n" + fixture.sshkeyLine(id: "key-\(i)", label: "k%20\(i)", lastUsed: 1_764_230_000) + "\n"
            let file = try FactorFile(parsing: text)
            let key = try #require(file.securityKeys.first)
            #expect(key.id == "key-\(i)" && key.label == "k \(i)")
            #expect(key.created == 1_764_220_800 && key.lastUsed == 1_764_230_000)
            #expect(key.type.rawValue == fixture.type)
            #expect(key.fingerprint == fixture.fingerprint)
            #expect(key.key.application == fixture.application)
            #expect(key.key.matches(blob: try fixture.key().blob))
            #expect(file.text.hasSuffix(fixture.sshkeyLine(id: "key-\(i)", label: "k%20\(i)", lastUsed: 1_764_230_000) + "\n"))
            let again = try FactorFile(parsing: file.text)
            #expect(again == file)
            expectSameContent(again, file)
        }
        let file = try Self.file()
        let again = try FactorFile(parsing: file.text)
        #expect(again.text == file.text)
        expectSameContent(again, file)
        #expect(again.securityKeys.map(\.id) == ["key-1", "key-2"])
    }

    @Test("an unchanged sshkey line is copied; a changed last-used is written anew")
    func byteStable() throws {
        let original = try FactorFile(parsing: try Self.file().text)
        let bytes = Array(original.text.utf8)
        // A wrong code: every factor line is copied.
        var failed = original
        failed.failures = FailureState(count: 1, last: 1_764_221_100)
        #expect(failed.bytes(reusingLinesOf: original, in: bytes) == Array(failed.text.utf8))
        // A key login: only the key's line changes.
        var used = original
        var key = used.securityKeys[0]
        key.lastUsed = 1_764_221_200
        used.factors[2] = key
        #expect(!used.factors[2].isSame(as: original.factors[2]))
        #expect(used.factors[3].isSame(as: original.factors[3]))
        let out = used.bytes(reusingLinesOf: original, in: bytes)
        #expect(out == Array(used.text.utf8))
        #expect(String(decoding: out, as: UTF8.self).contains(" created=1764220800 last-used=1764221200\n"))
    }

    @Test("equality compares the blob, not the comment or options of the authorized_keys line it came from")
    func sameness() throws {
        let f = SKFixtures.ed25519Touch
        let fromLine = try SSHPublicKey(authorizedKeysLine: "no-touch-required " + f.line)
        let fromBlob = try f.key()
        #expect(fromLine.comment == "touch" && fromBlob.comment == "")
        let a = SecurityKey(id: "key-1", key: fromLine, label: "L", created: 1)
        let b = SecurityKey(id: "key-1", key: fromBlob, label: "L", created: 1)
        #expect(a == b && a.isSame(as: b))
        #expect(a != SecurityKey(id: "key-1", key: fromBlob, label: "L", created: 1, lastUsed: 2))
        #expect(a != SecurityKey(id: "key-1", key: try SKFixtures.ed25519NoTouch.key(), label: "L", created: 1))
        #expect(!a.isSame(as: makeAuthenticator()))
    }

    @Test("a method that accepts no typed answer; the summary shows type, fingerprint and label")
    func methodAndSummary() throws {
        let file = try Self.file()
        let key = file.securityKeys[0]
        #expect(SecurityKey.isMethod)
        #expect(FactorFile(factors: [key]).isEnabled)
        let context = VerificationContext(now: 1_764_221_000, window: 1)
        for answer in ["", "123456", SKFixtures.ed25519VerifyRequired.base64, key.fingerprint, "YubiKey 5", "key-1"] {
            guard case .noMatch = key.check(answer, context: context) else {
                Issue.record("a security key accepted the answer '\(answer)'")
                continue
            }
        }
        #expect(key.summary == FactorSummary(
            kind: .securityKey, id: "key-1",
            description: "security key \"YubiKey 5\" (ED25519-SK \(SKFixtures.ed25519VerifyRequired.fingerprint))", created: 1_764_220_800))
        #expect(file.securityKeys[1].summary.description.contains("(ECDSA-SK \(SKFixtures.ecdsaTouch.fingerprint))"))
        #expect(FactorKind.securityKey.rawValue == "security-key")
        #expect(file.nextID(prefix: SecurityKey.idPrefix) == "key-3")
    }

    @Test("the verifier checks codes as before with keys in the file, and a wrong code still counts")
    func verifierIgnoresKeys() throws {
        let file = try Self.file()
        let now: Int64 = 1_764_221_000
        let totp = file.authenticators[0]
        let ok = Verifier().verify(code(totp, at: now), in: file, at: now)
        guard case .accepted(let acceptance) = ok.decision else { Issue.record("\(ok.decision)"); return }
        #expect(acceptance.kind == .authenticator)
        #expect(ok.file.securityKeys == file.securityKeys)
        let wrong = Verifier().verify(SKFixtures.ed25519VerifyRequired.unpaddedBase64, in: file, at: now)
        guard case .refused(let refusal) = wrong.decision else { Issue.record("\(wrong.decision)"); return }
        #expect(refusal.failures == 1)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var line: String
        var reason: String
        var testDescription: String { name }
    }

    static let ed = SKFixtures.ed25519VerifyRequired
    static let ec = SKFixtures.ecdsaTouch
    static let edType = "sk-ssh-ed25519@openssh.com"
    static func line(_ fields: String) -> String { "sshkey " + fields }
    static func edLine(key: String) -> String { line("id=key-1 type=\(edType) key=\(key) label=K created=1") }
    /// The unpadded Base64 of a hand-made blob.
    static func b64(_ blob: [UInt8]) -> String { Base64.encode(blob, padded: false) }
    static let edBlob = (try? Base64.decode(ed.base64)) ?? []
    static let plainBlob = (try? Base64.decode(String(SKFixtures.plainEd25519.split(separator: " ")[1]))) ?? []

    static let bad: [Bad] = [
        Bad(name: "no key", line: line("id=key-1 type=\(edType) label=K created=1"), reason: "sshkey: missing field 'key'"),
        Bad(name: "no type", line: line("id=key-1 key=\(ed.unpaddedBase64) label=K created=1"), reason: "sshkey: missing field 'type'"),
        Bad(name: "no label", line: line("id=key-1 type=\(edType) key=\(ed.unpaddedBase64) created=1"), reason: "sshkey: missing field 'label'"),
        Bad(name: "no created", line: line("id=key-1 type=\(edType) key=\(ed.unpaddedBase64) label=K"), reason: "sshkey: missing field 'created'"),
        Bad(name: "no id", line: line("type=\(edType) key=\(ed.unpaddedBase64) label=K created=1"), reason: "sshkey: missing field 'id'"),
        Bad(name: "unknown field", line: edLine(key: ed.unpaddedBase64) + " comment=vr", reason: "sshkey: unknown field 'comment'"),
        Bad(name: "last-used out of range", line: edLine(key: ed.unpaddedBase64) + " last-used=-1",
            reason: "sshkey: field 'last-used' must be a whole number from 0 to 1099511627776"),
        Bad(name: "a plain type", line: line("id=key-1 type=ssh-ed25519 key=\(b64(plainBlob)) label=K created=1"),
            reason: "sshkey: type must be sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com (got 'ssh-ed25519')"),
        Bad(name: "a plain key under an sk type", line: edLine(key: b64(plainBlob)),
            reason: "sshkey: key: 'ssh-ed25519' is not a security key type"),
        Bad(name: "type and key disagree", line: line("id=key-1 type=sk-ecdsa-sha2-nistp256@openssh.com key=\(ed.unpaddedBase64) label=K created=1"),
            reason: "sshkey: type is sk-ecdsa-sha2-nistp256@openssh.com but the key is a sk-ssh-ed25519@openssh.com key"),
        Bad(name: "padded Base64 (%3D)", line: edLine(key: ed.unpaddedBase64 + "%3D"),
            reason: "sshkey: key: invalid Base64 character '=' at position \(ed.base64.count)"),
        Bad(name: "non-canonical last character", line: edLine(key: String(ed.unpaddedBase64.dropLast()) + "p"),
            reason: "sshkey: key: invalid Base64: the last character has bits set that padding leaves at zero"),
        Bad(name: "impossible length", line: edLine(key: ed.unpaddedBase64 + "AA"), reason: "sshkey: key: invalid Base64 length"),
        Bad(name: "not Base64", line: edLine(key: "AAAA*AAA"), reason: "sshkey: key: invalid Base64 character '*' at position 5"),
        Bad(name: "empty key", line: edLine(key: ""), reason: "sshkey: key: the key ends inside its type"),
        Bad(name: "truncated blob (no application)", line: edLine(key: b64(Array(edBlob.prefix(66)))),
            reason: "sshkey: key: the key ends inside its application"),
        Bad(name: "trailing bytes", line: edLine(key: b64(edBlob + [0])), reason: "sshkey: key: 1 unexpected byte after the end of the key"),
        Bad(name: "application not ssh:", line: edLine(key: b64(Array(edBlob.prefix(66)) + sshString("web:x"))),
            reason: "sshkey: key: the key's application does not begin with 'ssh:'"),
        Bad(name: "short Ed25519 key",
            line: edLine(key: b64(sshString(edType) + sshString(Array(repeating: 7, count: 31)) + sshString("ssh:"))),
            reason: "sshkey: key: the key's Ed25519 public key is 31 bytes long, not 32"),
        Bad(name: "a key of 16 KiB and more", line: edLine(key: String(repeating: "A", count: 21_852)), reason: "sshkey: key is longer than 16384 bytes"),
        Bad(name: "an id used by the authenticator", line: line("id=totp-1 type=\(edType) key=\(ed.unpaddedBase64) label=K created=1"),
            reason: "id 'totp-1' is used twice"),
    ]

    @Test("a malformed sshkey line is an error naming its line", arguments: bad)
    func malformed(_ bad: Bad) throws {
        let text = Self.head + "\n" + Self.totpLine + "\n" + bad.line + "\n"
        let error = try #require(malformedFileError(text), "parsed: \(bad.line.prefix(120))")
        #expect(error.line == 5)
        #expect(error.reason.contains(bad.reason), "\(error.reason)")
    }

    @Test("the same key twice in one file is refused by the enrolment rules, not the parser")
    func sameKeyTwiceParses() throws {
        let f = SKFixtures.ed25519Touch
        let text = Self.head + Self.totpLine + "\n" + f.sshkeyLine(id: "key-1") + "\n" + f.sshkeyLine(id: "key-2") + "\n"
        #expect(try FactorFile(parsing: text).securityKeys.count == 2)
    }
}
