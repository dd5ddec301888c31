import Testing
import TwoStepCore

@Suite("FactorFile: model, writer and parser round trip")
struct FactorFileTests {
    static let salt = String(repeating: "ab", count: 16)
    static let hash = String(repeating: "cd", count: 32)

    /// A file with one of everything, built in memory.
    static func fullFile() throws -> FactorFile {
        var factors: [any Factor] = [
            makeAuthenticator(id: "totp-1", secret: try randomBytes(20), parameters: .standard, label: "Phone", lastStep: 58_807_360),
            makeAuthenticator(id: "totp-2", secret: try randomBytes(32),
                              parameters: try OTPParameters(algorithm: .sha256, digits: 8, period: 60),
                              label: "Zoë's tablet = 100% \"mine\" #1 & more", created: 1),
            makeAuthenticator(id: "totp-3", secret: try randomBytes(64),
                              parameters: try OTPParameters(algorithm: .sha512, digits: 7, period: 300),
                              label: "", created: 0, lastStep: 0),
            makeAuthenticator(id: "x", secret: try randomBytes(10),
                              parameters: try OTPParameters(algorithm: .sha1, digits: 6, period: 1),
                              label: "手机 📱 a+b:c/d@e,f", created: UnixTime.latest, lastStep: UInt64(UnixTime.latest)),
        ]
        for i in 1...3 {
            factors.append(try BackupCode.generate(id: "backup-\(i)", created: 1_764_220_800 + Int64(i)).factor)
        }
        let devices = [
            TrustedDevice(id: "trust-1", service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil, created: 1_764_220_800, expires: 1_766_812_800),
            TrustedDevice(id: "trust-2", service: "login", remoteHost: nil,
                          keyFingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8+/=", created: 5, expires: 5),
            TrustedDevice(id: "trust-3", service: "my service", remoteHost: "2001:db8::1", keyFingerprint: "SHA256:abc", created: 0, expires: UnixTime.latest),
        ]
        return FactorFile(factors: factors, trustedDevices: devices, failures: FailureState(count: 2, lockedUntil: 1_764_221_300, last: 1_764_221_000))
    }

    @Test("parse(text(x)) == x for a file with every kind of line")
    func roundTripFull() throws {
        let file = try Self.fullFile()
        let text = file.text
        let parsed = try FactorFile(parsing: text)
        expectSameContent(parsed, file)
        #expect(parsed == file)
        #expect(parsed.text == text)
    }

    @Test("round trip of files with one kind of line each", arguments: 0..<6)
    func roundTripParts(part: Int) throws {
        let full = try Self.fullFile()
        let file: FactorFile = switch part {
        case 0: FactorFile()
        case 1: FactorFile(factors: full.authenticators)
        case 2: FactorFile(factors: full.backupCodes)
        case 3: FactorFile(trustedDevices: full.trustedDevices)
        case 4: FactorFile(failures: FailureState(count: 1))
        default: FactorFile(failures: FailureState(count: 0, lockedUntil: 10))
        }
        let parsed = try FactorFile(parsing: file.text)
        expectSameContent(parsed, file)
        #expect(parsed.text == file.text)
    }

    @Test("round trip of every algorithm, digit count and some periods")
    func roundTripAllParameters() throws {
        var factors = [any Factor]()
        for algorithm in OTPAlgorithm.allCases {
            for digits in 6...8 {
                for period in [1, 30, 60, 300] {
                    factors.append(makeAuthenticator(
                        id: "totp-\(factors.count + 1)", secret: try randomBytes(try randomInt(in: 10...80)),
                        parameters: try OTPParameters(algorithm: algorithm, digits: digits, period: period)))
                }
            }
        }
        let file = FactorFile(factors: factors)
        expectSameContent(try FactorFile(parsing: file.text), file)
    }

    @Test("the writer's text: version line first, one line per item, a final newline")
    func writerShape() throws {
        let a = makeAuthenticator(secret: rfcKey20, label: "My Phone", lastStep: 58_807_360)
        let trust = TrustedDevice(id: "trust-1", service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil, created: 1_764_220_800, expires: 1_766_812_800)
        let file = FactorFile(factors: [a], trustedDevices: [trust], failures: FailureState(count: 2, last: 1_764_221_000))
        let lines = file.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("#"))
        #expect(lines[1] == "twostep 1")
        #expect(lines[2] == "failures count=0002 locked-until=0000000000 last=1764221000 accepted=0000000000")
        #expect(lines[3] == "totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=My%20Phone created=1764220800 last-step=58807360")
        #expect(lines[4] == "trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800")
        #expect(lines[5] == "")
        // No failures: the line is still there, zeroed, at the same length.
        let clear = FactorFile(factors: [a]).text.split(separator: "\n")
        #expect(clear[2] == "failures count=0000 locked-until=0000000000 last=0000000000 accepted=0000000000")
        #expect(clear[2].count == lines[2].count)
    }

    @Test("the failures line keeps its length through a count, a lock-out and a reset; zeros mean none")
    func failuresLineFixedWidth() throws {
        let states = [FailureState(), FailureState(count: 1, last: 1_764_221_000),
                      FailureState(count: 5, lockedUntil: 1_764_221_300, last: 1_764_221_000),
                      FailureState(count: 1000, lockedUntil: 9_999_999_999, last: 9_999_999_999)]
        let texts = states.map { FactorFile(failures: $0).text }
        #expect(Set(texts.map(\.utf8.count)).count == 1)
        for (state, text) in zip(states, texts) {
            #expect(try FactorFile(parsing: text).failures == state)
        }
        // Files from before the fixed width (no line, or short numbers) still parse.
        let old = try FactorFile(parsing: "twostep 1\nfailures count=2 last=1764221000\n")
        #expect(old.failures == FailureState(count: 2, last: 1_764_221_000))
        #expect(try FactorFile(parsing: "twostep 1\n").failures.isClear)
    }

    @Test("the documented example parses; comments and blank lines are skipped")
    func documentedExample() throws {
        let text = """
            # twostep factor file: see twostep-factors(5)

            twostep 1
            # an authenticator
            totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=Phone created=1764220800 last-step=58807360

            backup id=backup-1 salt=\(Self.salt) hash=\(Self.hash) created=1764220800
            #trust id=trust-9 this line is a comment
            trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800
            failures count=2 last=1764221000
            """
        let file = try FactorFile(parsing: text)
        #expect(file.authenticators.count == 1)
        let a = try #require(file.authenticators.first)
        #expect(a.id == "totp-1")
        #expect(a.secret == SecretBytes(rfcKey20))
        #expect(a.parameters == .standard)
        #expect(a.label == "Phone")
        #expect(a.created == 1_764_220_800)
        #expect(a.lastStep == 58_807_360)
        let b = try #require(file.backupCodes.first)
        #expect(b.salt.bytes == Hex.decode(Self.salt))
        #expect(b.hash.bytes == Hex.decode(Self.hash))
        #expect(file.trustedDevices == [TrustedDevice(id: "trust-1", service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil, created: 1_764_220_800, expires: 1_766_812_800)])
        #expect(file.failures == FailureState(count: 2, lockedUntil: nil, last: 1_764_221_000))
        #expect(file.isEnabled)
        #expect(file.factors.map(\.id) == ["totp-1", "backup-1"])
    }

    @Test("a file with only the version line is valid and has nothing on")
    func emptyFile() throws {
        let file = try FactorFile(parsing: "twostep 1\n")
        #expect(!file.isEnabled)
        #expect(file.factors.isEmpty && file.trustedDevices.isEmpty && file.failures.isClear)
        #expect(try FactorFile(parsing: "twostep 1").factors.isEmpty)
    }

    @Test("nextID takes the first free number across factors and devices")
    func nextID() throws {
        let file = try Self.fullFile()
        #expect(file.nextID(prefix: "totp") == "totp-4")
        #expect(file.nextID(prefix: "backup") == "backup-4")
        #expect(file.nextID(prefix: "trust") == "trust-4")
        #expect(file.nextID(prefix: "phone") == "phone-1")
        var gap = file
        gap.factors.removeFirst()
        #expect(gap.nextID(prefix: "totp") == "totp-1")
    }

    @Test("summaries describe factors without their secrets")
    func summaries() throws {
        let a = makeAuthenticator(secret: rfcKey20, label: "Phone")
        #expect(a.summary.kind == .authenticator)
        #expect(a.summary.id == "totp-1")
        #expect(a.summary.description.contains("Phone"))
        #expect(!a.summary.description.contains(rfcKey20Base32))
        let (_, b) = try BackupCode.generate(id: "backup-1", created: 7)
        #expect(b.summary == FactorSummary(kind: .backupCode, id: "backup-1", description: "backup code", created: 7))
    }
}

@Suite("FactorFile: writing a changed copy by reusing the original's lines")
struct ReusedLinesTests {
    static func original() throws -> (FactorFile, [UInt8]) {
        var file = FactorFile(factors: [makeAuthenticator(secret: rfcKey20, label: "Phone", lastStep: 58_807_360)])
        for i in 1...3 { file.factors.append(try BackupCode.generate(id: "backup-\(i)", created: 1_764_220_800).factor) }
        file.trustedDevices = [TrustedDevice(id: "trust-1", service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil,
                                             created: 1_764_220_800, expires: 1_766_812_800)]
        let bytes = Array(file.text.utf8)
        return (try FactorFile(parsing: file.text), bytes)
    }

    @Test("a new step and count: the same bytes as text")
    func stateChange() throws {
        let (original, bytes) = try Self.original()
        var changed = original
        var totp = changed.authenticators[0]
        totp.lastStep = 58_807_361
        changed.factors[0] = totp
        changed.failures = FailureState(count: 1, last: 1_764_221_000)
        #expect(changed.bytes(reusingLinesOf: original, in: bytes) == Array(changed.text.utf8))
    }

    @Test("a spent backup code or a new device: still the same bytes as text")
    func structuralChange() throws {
        let (original, bytes) = try Self.original()
        var changed = original
        changed.factors.remove(at: 2)
        changed.trustedDevices.append(TrustedDevice(id: "trust-2", service: "sshd", remoteHost: nil, keyFingerprint: "SHA256:x",
                                                    created: 1, expires: 2))
        #expect(changed.bytes(reusingLinesOf: original, in: bytes) == Array(changed.text.utf8))
    }

    @Test("an unchanged line is copied as it was, even when not in the writer's form")
    func copiesLinesVerbatim() throws {
        let (canonical, _) = try Self.original()
        let backup = canonical.backupCodes[0]
        var text = canonical.text
        // The same backup code with its fields in another order.
        let written = try #require(text.split(separator: "\n").first { $0.hasPrefix("backup id=\(backup.id) ") })
        let fields = written.split(separator: " ")
        let reordered = ([fields[0], fields[1], fields[4], fields[2], fields[3]]).joined(separator: " ")
        text = text.replacingOccurrences(of: String(written), with: reordered)
        let original = try FactorFile(parsing: text)
        let bytes = Array(text.utf8)
        var changed = original
        changed.failures = FailureState(count: 2, last: 1_764_221_000)
        let out = changed.bytes(reusingLinesOf: original, in: bytes)
        #expect(String(decoding: out, as: UTF8.self).contains(reordered + "\n"))
        #expect(try FactorFile(parsing: String(decoding: out, as: UTF8.self)) == changed)
        // Made in memory, the original has no line places: the writer's text.
        #expect(changed.bytes(reusingLinesOf: FactorFile(factors: original.factors), in: bytes) == Array(changed.text.utf8))
    }
}
