import Testing
@testable import TwoStepCore

// Issue 19, item 6: one rule for free text stored and printed, one escaping.
@Suite struct PrintableTextTests {
    @Test(arguments: [
        "a\u{1B}]0;owned\u{07}b", "\u{1B}[2J", "tab\there", "line\nfeed", "del\u{7F}", "c1\u{9B}31m",
        "evil\u{202E}gpj.exe", "\u{202A}x", "\u{2066}x\u{2069}", "a\u{2028}b", "a\u{2029}b",
        "zero\u{200B}width", "word\u{2060}joiner", "bom\u{FEFF}", "soft\u{AD}hyphen", "tag\u{E0041}", "\u{3164}",
    ])
    func refusedLabels(_ label: String) throws {
        let problem = try #require(PrintableText.problem(inLabel: label))
        #expect(problem.contains("\\u{"), "the reason names the character escaped")
        #expect(!problem.unicodeScalars.contains(where: PrintableText.isRefused))
    }

    @Test(arguments: [
        "Phone", "هاتفي\u{200F}", "\u{200E}office", "עבודה\u{200F} 2", "👩\u{200D}💻 laptop", "می\u{200C}خواهم",
        "بريد\u{061C}", "Büro · 办公室", String(repeating: "x", count: 64),
    ])
    func acceptedLabels(_ label: String) {
        #expect(PrintableText.problem(inLabel: label) == nil)
    }

    @Test func labelsAreCappedInCharactersAndBytes() {
        #expect(PrintableText.problem(inLabel: "") != nil)
        #expect(PrintableText.problem(inLabel: String(repeating: "x", count: 65)) != nil)
        // One character of 10,000 combining accents: 1 character, 20,001 bytes.
        let heavy = "e" + String(repeating: "\u{0301}", count: 10_000)
        #expect(heavy.count == 1)
        #expect(PrintableText.problem(inLabel: heavy) != nil)
        // 64 three-byte characters: 192 bytes, accepted; 86 four-byte emoji would be 344.
        #expect(PrintableText.problem(inLabel: String(repeating: "办", count: 64)) == nil)
        #expect(PrintableText.problem(inLabel: String(repeating: "😀", count: 64)) == nil)
        #expect(PrintableText.problem(inLabel: String(repeating: "é\u{0301}\u{0301}", count: 60)) != nil)
    }

    @Test func escapingShowsWhatTheTextHolds() {
        #expect(PrintableText.escaped("a\u{1B}[2Jb") == "a\\u{1B}[2Jb")
        #expect(PrintableText.escaped("x\u{202E}y\nz") == "x\\u{202E}y\\u{A}z")
        #expect(PrintableText.escaped("x\u{202E}y\nz\tw", keepingLayout: true) == "x\\u{202E}y\nz\tw")
        #expect(PrintableText.escaped("z\tw") == "z\\u{9}w")
        #expect(PrintableText.escaped("هاتفي\u{200F}") == "هاتفي\u{200F}")
        #expect(PrintableText.escaped("tag\u{E0041}") == "tag\\u{E0041}")
        #expect(PrintableText.escaped("plain") == "plain")
    }

    @Test func jsonEscapingKeepsTheValue() {
        #expect(PrintableText.escapedJSON("{\"l\":\"x\u{202E}y\"}") == "{\"l\":\"x\\u202Ey\"}")
        #expect(PrintableText.escapedJSON("{\"l\":\"\u{E0041}\"}") == "{\"l\":\"\\uDB40\\uDC41\"}")
        #expect(PrintableText.escapedJSON("{\"l\":\"هاتفي\u{200F}\"}") == "{\"l\":\"هاتفي\u{200F}\"}")
    }

    @Test func theFactorFileStillReadsWhatTheOldCheckLetIn() throws {
        // A record written before this rule: a right-to-left mark in an
        // Arabic label, and a U+202E, both still parse (printing escapes).
        let text = "twostep 1\ntotp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=\(rfcKey20Base32) label=%D9%87%D8%A7%D8%AA%D9%81%D9%8A%E2%80%8F created=1\n"
            + "phone id=phone-1 number=+966501234534 channel=sms label=x%E2%80%AEy created=1\n"
        let file = try FactorFile(parsing: text)
        #expect(file.authenticators.first?.label == "هاتفي\u{200F}")
    }
}
