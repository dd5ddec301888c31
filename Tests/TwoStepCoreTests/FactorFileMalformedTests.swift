import Testing
import TwoStepCore

/// Every kind of malformed file is refused with `malformedFile` naming the
/// right line (comments and blank lines count).
@Suite("FactorFile: strict parser errors")
struct FactorFileMalformedTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var line: Int
        /// A piece of the reason, to show the intended check fired.
        var reason: String
        var testDescription: String { name }
    }

    static let secret = rfcKey20Base32
    static let salt = String(repeating: "ab", count: 16)
    static let hash = String(repeating: "cd", count: 32)

    /// Lines 1–3: a comment, a blank line, the version line.
    static let head = "# twostep factor file\n\ntwostep 1\n"
    /// Lines 1–6: blank lines and comments around the version line.
    static let head6 = "\n#\n\ntwostep 1\n# factors follow\n\n"

    static func totp(_ fields: String = "") -> String {
        let base = "totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(secret) label=Phone created=1764220800"
        return fields.isEmpty ? base : base + " " + fields
    }

    static func totp(replacing old: String, with new: String) -> String {
        totp().replacing(old, with: new)
    }

    static let backup = "backup id=backup-1 salt=\(salt) hash=\(hash) created=1764220800"
    static let trust = "trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800"

    /// `head`, a good totp line (line 4), then `bad` on line 5.
    static func onLine5(_ bad: String) -> String { head + totp() + "\n" + bad + "\n" }
    /// `head6`, then `bad` on line 7, then good lines after it.
    static func onLine7(_ bad: String) -> String { head6 + bad + "\n" + backup + "\n" }

    static let cases: [Case] = [
        // Version line.
        Case(name: "unknown version twostep 2", text: "# c\ntwostep 2\n" + totp() + "\n", line: 2, reason: "version"),
        Case(name: "version 1.0", text: "twostep 1.0\n", line: 1, reason: "version"),
        Case(name: "version without number", text: "\n\ntwostep\n", line: 3, reason: "version"),
        Case(name: "version with trailing space", text: "twostep 1 \n", line: 1, reason: "version"),
        Case(name: "missing version line (factors only)", text: "# c\n\n" + totp() + "\n" + backup + "\n", line: 3, reason: "must start with"),
        Case(name: "missing version line (empty file)", text: "", line: 1, reason: "version line"),
        Case(name: "missing version line (comments only)", text: "# a\n# b", line: 2, reason: "version line"),
        Case(name: "version line not first", text: "# c\n" + totp() + "\ntwostep 1\n", line: 2, reason: "must start with"),
        Case(name: "version line after a failures line", text: "failures count=1\ntwostep 1\n", line: 1, reason: "must start with"),
        Case(name: "duplicate twostep line", text: onLine5("twostep 1"), line: 5, reason: "second 'twostep'"),
        Case(name: "duplicate twostep line, far apart", text: head6 + backup + "\n\n# x\ntwostep 1\n", line: 10, reason: "second 'twostep'"),
        // Keywords and fields.
        Case(name: "unknown keyword", text: onLine5("email id=email-1 address=a@example.org"), line: 5, reason: "unknown keyword"),
        Case(name: "keyword in upper case", text: onLine7(totp().replacing("totp id", with: "TOTP id")), line: 7, reason: "unknown keyword"),
        Case(name: "unknown field", text: onLine5(backup + " note=x"), line: 5, reason: "unknown field 'note'"),
        Case(name: "unknown field in totp", text: onLine7(totp("counter=3")), line: 7, reason: "unknown field 'counter'"),
        Case(name: "unknown field in trust", text: onLine7(trust + " user=bob"), line: 7, reason: "unknown field 'user'"),
        Case(name: "unknown field in failures", text: onLine7("failures count=1 until=5"), line: 7, reason: "unknown field 'until'"),
        Case(name: "missing secret", text: onLine5(totp(replacing: " secret=\(secret)", with: "")), line: 5, reason: "missing field 'secret'"),
        Case(name: "missing label", text: onLine7(totp(replacing: " label=Phone", with: "")), line: 7, reason: "missing field 'label'"),
        Case(name: "missing id", text: onLine7(totp(replacing: "id=totp-1 ", with: "")), line: 7, reason: "missing field 'id'"),
        Case(name: "missing created in backup", text: onLine5(backup.replacing(" created=1764220800", with: "")), line: 5, reason: "missing field 'created'"),
        Case(name: "missing service in trust", text: onLine5(trust.replacing(" service=sshd", with: "")), line: 5, reason: "missing field 'service'"),
        Case(name: "missing count in failures", text: onLine5("failures last=5"), line: 5, reason: "missing field 'count'"),
        Case(name: "keyword alone", text: onLine5("backup"), line: 5, reason: "missing field"),
        Case(name: "duplicate field", text: onLine5(totp("label=Other")), line: 5, reason: "'label' appears twice"),
        Case(name: "duplicate field, same value", text: onLine7(backup + " created=1764220800"), line: 7, reason: "'created' appears twice"),
        Case(name: "word without =", text: onLine5(totp("junk")), line: 5, reason: "not key=value"),
        Case(name: "field without key", text: onLine5(totp("=x")), line: 5, reason: "not key=value"),
        // Ids.
        Case(name: "duplicate id", text: onLine5(totp()), line: 5, reason: "used twice"),
        Case(name: "duplicate id across kinds", text: onLine5(backup.replacing("backup-1", with: "totp-1")), line: 5, reason: "used twice"),
        Case(name: "duplicate id of trusted devices", text: head + trust + "\n\n" + trust + "\n", line: 6, reason: "used twice"),
        Case(name: "empty id", text: onLine5(backup.replacing("backup-1", with: "")), line: 5, reason: "id"),
        Case(name: "id with a space", text: onLine5(backup.replacing("backup-1", with: "backup%201")), line: 5, reason: "id"),
        // The failures line.
        Case(name: "duplicate failures line", text: head + "failures count=1\n\nfailures count=2\n", line: 6, reason: "second 'failures'"),
        Case(name: "failures count negative", text: onLine5("failures count=-1"), line: 5, reason: "count"),
        Case(name: "failures count too large", text: onLine5("failures count=1000000001"), line: 5, reason: "count"),
        // Integers.
        Case(name: "integer with letters", text: onLine5(totp(replacing: "created=1764220800", with: "created=17642208OO")), line: 5, reason: "created"),
        Case(name: "integer in hex", text: onLine5(backup.replacing("created=1764220800", with: "created=0x10")), line: 5, reason: "created"),
        Case(name: "negative integer", text: onLine7(backup.replacing("created=1764220800", with: "created=-1")), line: 7, reason: "created"),
        Case(name: "integer with plus sign", text: onLine7(backup.replacing("created=1764220800", with: "created=+1")), line: 7, reason: "created"),
        Case(name: "empty integer", text: onLine7(backup.replacing("created=1764220800", with: "created=")), line: 7, reason: "created"),
        Case(name: "integer overflow (20 digits)", text: onLine5(totp(replacing: "created=1764220800", with: "created=99999999999999999999")), line: 5, reason: "created"),
        Case(name: "integer overflow (Int64.max + 1)", text: onLine5(totp(replacing: "created=1764220800", with: "created=9223372036854775808")), line: 5, reason: "created"),
        Case(name: "a time beyond 2^40 (Int64.max)", text: onLine5(totp(replacing: "created=1764220800", with: "created=9223372036854775807")), line: 5, reason: "from 0 to 1099511627776"),
        Case(name: "a last step beyond 2^40", text: onLine5(totp("last-step=1099511627777")), line: 5, reason: "last-step"),
        Case(name: "negative last-step", text: onLine5(totp("last-step=-1")), line: 5, reason: "last-step"),
        Case(name: "last-step overflow", text: onLine5(totp("last-step=18446744073709551615")), line: 5, reason: "last-step"),
        // OTP parameters and secret.
        Case(name: "digits 5", text: onLine5(totp(replacing: "digits=6", with: "digits=5")), line: 5, reason: "digits"),
        Case(name: "digits 9", text: onLine7(totp(replacing: "digits=6", with: "digits=9")), line: 7, reason: "digits"),
        Case(name: "period 0", text: onLine5(totp(replacing: "period=30", with: "period=0")), line: 5, reason: "period"),
        Case(name: "period 301", text: onLine7(totp(replacing: "period=30", with: "period=301")), line: 7, reason: "period"),
        Case(name: "unknown algorithm", text: onLine5(totp(replacing: "SHA1", with: "MD5")), line: 5, reason: "algorithm"),
        Case(name: "algorithm in lower case", text: onLine5(totp(replacing: "SHA1", with: "sha1")), line: 5, reason: "algorithm"),
        Case(name: "secret not Base32", text: onLine5(totp(replacing: secret, with: "GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ")), line: 5, reason: "secret"),
        Case(name: "secret of impossible length", text: onLine7(totp(replacing: secret, with: secret + "A")), line: 7, reason: "secret"),
        Case(name: "secret shorter than 10 bytes", text: onLine5(totp(replacing: secret, with: "GEZDGNBVGY3TQOI")), line: 5, reason: "shorter than 10 bytes"),
        Case(name: "empty secret", text: onLine5(totp(replacing: secret, with: "")), line: 5, reason: "secret"),
        // Encoding and spacing.
        Case(name: "bad %-escape", text: onLine5(totp(replacing: "label=Phone", with: "label=Ph%zzone")), line: 5, reason: "%-escape"),
        Case(name: "truncated %-escape", text: onLine7(totp(replacing: "label=Phone", with: "label=Phone%4")), line: 7, reason: "%-escape"),
        Case(name: "%-escape that is not UTF-8", text: onLine5(totp(replacing: "label=Phone", with: "label=%C3")), line: 5, reason: "%-escape"),
        Case(name: "two spaces", text: onLine5(totp(replacing: " algorithm", with: "  algorithm")), line: 5, reason: "two spaces"),
        Case(name: "trailing space", text: onLine7(totp() + " "), line: 7, reason: "space at the end"),
        Case(name: "leading space", text: onLine5(" " + backup), line: 5, reason: "starts with a space"),
        Case(name: "tab between fields", text: onLine5(totp(replacing: " algorithm", with: "\talgorithm")), line: 5, reason: "control character"),
        Case(name: "NUL in a value", text: onLine7(totp(replacing: "label=Phone", with: "label=Ph\u{0}one")), line: 7, reason: "control character"),
        Case(name: "DEL in a value", text: onLine5(totp(replacing: "label=Phone", with: "label=Ph\u{7F}one")), line: 5, reason: "control character"),
        Case(name: "escape character", text: onLine5(trust.replacing("sshd", with: "ss\u{1B}[2Jhd")), line: 5, reason: "control character"),
        Case(name: "carriage return at the end of a line", text: onLine5(backup + "\r"), line: 5, reason: "control character"),
        Case(name: "raw non-ASCII byte in a value", text: onLine5(totp(replacing: "label=Phone", with: "label=Phöne")), line: 5, reason: "non-ASCII"),
        Case(name: "control character in the version line", text: "twostep 1\u{7}\n", line: 1, reason: "control character"),
        // Backup codes.
        Case(name: "salt too short", text: onLine5(backup.replacing(salt, with: "abab")), line: 5, reason: "salt"),
        Case(name: "salt too long", text: onLine5(backup.replacing(salt, with: salt + "00")), line: 5, reason: "salt"),
        Case(name: "salt not hex", text: onLine7(backup.replacing(salt, with: String(repeating: "zz", count: 16))), line: 7, reason: "salt"),
        Case(name: "salt of odd length", text: onLine7(backup.replacing(salt, with: salt + "a")), line: 7, reason: "salt"),
        Case(name: "hash too short", text: onLine5(backup.replacing(hash, with: String(repeating: "cd", count: 31))), line: 5, reason: "hash"),
        Case(name: "hash not hex", text: onLine7(backup.replacing(hash, with: String(repeating: "cg", count: 32))), line: 7, reason: "hash"),
        // Trusted devices.
        Case(name: "trust without rhost or key", text: onLine5(trust.replacing(" rhost=192.0.2.7", with: "")), line: 5, reason: "rhost= or key="),
        Case(name: "trust expires before created", text: onLine7(trust.replacing("expires=1766812800", with: "expires=1764220799")), line: 7, reason: "expires before"),
        Case(name: "trust without expires", text: onLine5(trust.replacing(" expires=1766812800", with: "")), line: 5, reason: "missing field 'expires'"),
    ]

    @Test("malformed files name the right line", arguments: cases)
    func malformed(c: Case) throws {
        let error = try #require(malformedFileError(c.text), "parsed without a malformedFile error:\n\(c.text)")
        #expect(error.line == c.line, "reason: \(error.reason)")
        #expect(error.reason.contains(c.reason), "reason: \(error.reason)")
    }

    @Test("the same lines without the fault parse (the cases above are minimal)")
    func controlsParse() throws {
        _ = try FactorFile(parsing: Self.onLine5(Self.backup))
        _ = try FactorFile(parsing: Self.onLine5(Self.trust))
        _ = try FactorFile(parsing: Self.onLine5("failures count=1 locked-until=5 last=4"))
        _ = try FactorFile(parsing: Self.onLine7(Self.totp("last-step=1099511627776")))  // UnixTime.latest
        _ = try FactorFile(parsing: Self.onLine7(Self.trust.replacing("expires=1766812800", with: "expires=1764220800")))
        _ = try FactorFile(parsing: Self.onLine7(Self.trust.replacing("rhost=192.0.2.7", with: "key=SHA256:abc")))
        _ = try FactorFile(parsing: Self.onLine7(Self.totp(replacing: Self.secret, with: Self.secret.lowercased())))
        _ = try FactorFile(parsing: Self.head + "# comment with\ttab and \u{7F}\n" + Self.totp() + "\n")
    }

    @Test("the version line is held to the same spacing rule as every other line")
    func versionLineSpacing() {
        // FactorLine lines refuse two spaces in a row; `twostep  1` must be refused too.
        let error = malformedFileError("twostep  1\n" + Self.totp() + "\n")
        #expect(error?.line == 1, "'twostep  1' (two spaces) was accepted as the version line")
    }

    @Test("CRLF line ends are refused with the right line, never swallow the next line")
    func crlf() throws {
        // A comment ending in CR LF must not hide the line after it.
        let text = "twostep 1\n# note\r\n" + Self.totp() + "\n"
        if let error = malformedFileError(text) {
            #expect(error.line == 2, "reason: \(error.reason)")
        } else {
            let file = try FactorFile(parsing: text)
            #expect(file.authenticators.count == 1, "the totp line after a CRLF comment was silently dropped")
        }
        // A CRLF file is refused at its first CR, not as "no version line".
        let crlfFile = "# c\r\ntwostep 1\r\n" + Self.totp() + "\r\n"
        let error = try #require(malformedFileError(crlfFile))
        #expect(error.line == 2, "reason: \(error.reason)")
        #expect(error.reason.contains("control character"), "reason: \(error.reason)")
    }
}
