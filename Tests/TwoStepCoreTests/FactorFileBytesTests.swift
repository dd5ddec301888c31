import Testing
@testable import TwoStepCore

/// The byte-level pieces of the factor-file parser and writer.
@Suite("FactorFile: byte-level parser and writer")
struct FactorFileBytesTests {
    static let salt = String(repeating: "ab", count: 16)
    static let hash = String(repeating: "cd", count: 32)

    /// A file with every kind of line, many of them.
    static func largeFile() -> FactorFile {
        var factors: [any Factor] = [makeAuthenticator(label: "Téléphone de Zoë 100% sûr", lastStep: 58_807_360)]
        for i in 1...50 {
            factors.append(BackupCode(id: "backup-\(i)", salt: Array(repeating: UInt8(i), count: 16),
                                      hash: Array(repeating: UInt8(255 - i), count: 32), created: 1_764_220_800 + Int64(i)))
        }
        if let number = try? PhoneNumber(parsing: "+966501234534") {
            factors.append(Phone(id: "phone-1", number: number, channel: .sms, label: "Mobile a+b=c", created: 1))
        }
        var devices = [TrustedDevice]()
        for i in 1...100 {
            devices.append(TrustedDevice(id: "trust-\(i)", service: "sshd", remoteHost: i % 3 == 0 ? nil : "192.0.2.\(i)",
                                         keyFingerprint: i % 2 == 0 && i % 3 != 0 ? nil : "SHA256:ab/c+d=\(i)", created: 5, expires: 6 + Int64(i)))
        }
        return FactorFile(factors: factors, trustedDevices: devices, failures: FailureState(count: 3, lockedUntil: 9, last: 8),
                          sends: SendLog(times: [1, 2, 3]))
    }

    @Test("a large file survives write → parse → write unchanged")
    func largeRoundTrip() throws {
        let file = Self.largeFile()
        let text = file.text
        let again = try FactorFile(parsing: text)
        #expect(again.text == text)
        #expect(again.factors.count == 52)
        #expect(again.trustedDevices.count == 100)
        #expect(again.failures == file.failures)
        #expect(again.sends == file.sends)
        #expect(again.authenticators.first?.label == "Téléphone de Zoë 100% sûr")
        #expect(text.contains("label=T%C3%A9l%C3%A9phone%20de%20Zo%C3%AB%20100%25%20s%C3%BBr "))
        #expect(text.contains("trust id=trust-1 service=sshd rhost=192.0.2.1 key=SHA256:ab/c+d%3D1 created=5 expires=7\n"))
    }

    @Test("records write what the old String-built writer wrote")
    func recordText() {
        var r = FactorLine(keyword: "x")
        r.append("a", "b c")
        r.append("n", Int64(-42))
        r.append("m", Int64.min)
        r.append("u", UInt64.max)
        r.append("z", 0)
        r.append("h", hex: [0, 1, 0xab, 0xff])
        r.append("o", nil as String?)
        #expect(r.text == "x a=b%20c n=-42 m=-9223372036854775808 u=18446744073709551615 z=0 h=0001abff")
        #expect(r.keyword == "x")
        #expect(r.fields.map(\.key) == ["a", "n", "m", "u", "z", "h"])
        #expect(r.fields.first?.value == "b c")
        #expect(r == FactorLine(keyword: "x", fields: r.fields))
    }

    @Test("a parsed record reads back its fields, decoded")
    func recordParse() throws {
        let r = try FactorLine(parsing: "kw a=1 b=x%20y c=", line: 3)
        #expect(r.keyword == "kw" && r.hasKeyword("kw") && !r.hasKeyword("k"))
        var reader = FactorLineReader(r)
        let a = try reader.integer("a", in: 0...5)
        let b = reader.optional("b")
        #expect(a == 1 && b == "x y")
        #expect(throws: TwoStepError.malformedFile(line: 3, reason: "kw: unknown field 'c'")) { try reader.finish() }
        let c = reader.optional("c")
        #expect(c == "")
        try reader.finish()
    }

    @Test("fields are found in any order, and a line of more than 64 fields still names the first unread one")
    func manyFields() throws {
        let text = "kw " + (0..<70).map { "k\($0)=\($0)" }.joined(separator: " ")
        var reader = FactorLineReader(try FactorLine(parsing: Substring(text), line: 1))
        let last = reader.optional("k69"), first = reader.optional("k0")
        #expect(last == "69" && first == "0")
        #expect(throws: TwoStepError.malformedFile(line: 1, reason: "kw: unknown field 'k1'")) { try reader.finish() }
    }

    @Test("decimal fields: 1 to 19 digits, no sign, at most Int64.max", arguments: [
        ("0", Int64(0)), ("0000000000000000007", 7), ("9223372036854775807", Int64.max), ("9223372036854775808", nil),
        ("99999999999999999999", nil), ("", nil), ("-1", nil), ("+1", nil), ("1a", nil), (" 1", nil),
    ] as [(String, Int64?)])
    func decimal(text: String, value: Int64?) {
        let parsed = Array(text.utf8).withUnsafeBufferPointer { DecimalDigits.parse($0) }
        #expect(parsed == value)
        if let value {
            var out = [UInt8]()
            DecimalDigits.append(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    @Test("zero-padded integers: the same on the stack and in an array, wider values unpadded")
    func padded() {
        for (value, width, expected) in [(Int64(0), 4, "0000"), (7, 4, "0007"), (1234, 4, "1234"), (99_999, 4, "99999"),
                                         (1_764_221_000, 10, "1764221000"), (42, 10, "0000000042"), (-5, 4, "-5")] {
            var stack = StackBytes()
            DecimalDigits.write(value, minimumWidth: width, to: &stack)
            var onStack = [UInt8]()
            stack.append(to: &onStack)
            var inArray = [UInt8]()
            DecimalDigits.append(value, minimumWidth: width, to: &inArray)
            #expect(String(decoding: onStack, as: UTF8.self) == expected, "\(value)")
            #expect(String(decoding: inArray, as: UTF8.self) == expected, "\(value)")
        }
        var record = FactorLine(keyword: "failures")
        record.append("count", 3, width: 4)
        #expect(record.text == "failures count=0003")
    }

    @Test("printable-ASCII check agrees with the byte-by-byte one")
    func printable() throws {
        for length in 0..<40 {
            for _ in 0..<50 {
                var bytes = Array(repeating: UInt8(ascii: "a"), count: length)
                if length > 0, try randomInt(in: 0...1) == 1 {
                    bytes[try randomInt(in: 0...(length - 1))] = UInt8(try randomInt(in: 0...255))
                }
                let expected = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
                #expect(bytes.withUnsafeBufferPointer(ByteScan.isPrintableASCII) == expected, "\(bytes)")
            }
        }
        for b in UInt8.min...UInt8.max {
            let bytes = [UInt8](repeating: 0x41, count: 9) + [b] + [UInt8](repeating: 0x41, count: 9)
            #expect(bytes.withUnsafeBufferPointer(ByteScan.isPrintableASCII) == (b >= 0x20 && b < 0x7f), "byte \(b)")
        }
    }

    @Test("ASCII check and first/last difference agree with byte-by-byte loops")
    func asciiAndDifferences() throws {
        for length in 0..<40 {
            for _ in 0..<50 {
                let a = try (0..<length).map { _ in UInt8(try randomInt(in: 0...127)) }
                var b = a
                var c = a
                for _ in 0..<(try randomInt(in: 0...2)) where length > 0 {
                    b[try randomInt(in: 0...(length - 1))] ^= UInt8(try randomInt(in: 1...255))
                    c[try randomInt(in: 0...(length - 1))] = UInt8(try randomInt(in: 0...255))
                }
                let first = a.indices.first { a[$0] != b[$0] } ?? length
                let last = a.indices.last { a[$0] != b[$0] } ?? -1
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        #expect(ByteScan.firstDifference(pa, pb) == first, "\(a) \(b)")
                        #expect(ByteScan.lastDifference(pa, pb) == last, "\(a) \(b)")
                    }
                }
                #expect(a.withUnsafeBufferPointer(ByteScan.isASCII))
                #expect(c.withUnsafeBufferPointer(ByteScan.isASCII) == c.allSatisfy { $0 < 0x80 }, "\(c)")
            }
        }
    }

    @Test("arrays share storage until one changes, even to an equal value")
    func sharedStorage() throws {
        var file = FactorFile()
        for i in 1...3 { file.factors.append(try BackupCode.generate(id: "backup-\(i)", created: 1).factor) }
        let original = file
        var changed = original
        #expect(FactorFile.sharesStorage(changed.factors, original.factors))
        changed.failures = FailureState(count: 1, last: 1)
        #expect(FactorFile.sharesStorage(changed.factors, original.factors))
        changed.factors[1] = original.factors[1]
        #expect(!FactorFile.sharesStorage(changed.factors, original.factors))
        #expect(!FactorFile.sharesStorage(Array(original.factors), Array(original.factors.dropLast())))
    }

    @Test("byte search and compare")
    func scan() {
        let bytes = Array("ab=cd=e".utf8)
        bytes.withUnsafeBufferPointer { b in
            #expect(ByteScan.firstIndex(of: UInt8(ascii: "="), in: b, from: 0) == 2)
            #expect(ByteScan.firstIndex(of: UInt8(ascii: "="), in: b, from: 3) == 5)
            #expect(ByteScan.firstIndex(of: UInt8(ascii: "="), in: b, from: 3, to: 5) == 5)
            #expect(ByteScan.firstIndex(of: UInt8(ascii: "x"), in: b, from: 0) == 7)
            #expect(ByteScan.firstIndex(of: UInt8(ascii: "a"), in: b, from: 7) == 7)
            #expect(ByteScan.equal(UnsafeBufferPointer(rebasing: b[0..<2]), "ab"))
            #expect(!ByteScan.equal(UnsafeBufferPointer(rebasing: b[0..<2]), "abc"))
            #expect(ByteScan.equal(UnsafeBufferPointer(rebasing: b[0..<0]), ""))
        }
    }

    @Test("percent-encoding sets and byte decoding")
    func percent() {
        let allowed = PercentEncoding.AllowedBytes(alsoAllowed: ":/+@,")
        for b in UInt8.min...UInt8.max {
            #expect(allowed.contains(b) == (PercentEncoding.isUnreserved(b) || ":/+@,".utf8.contains(b)))
        }
        var out = [UInt8]()
        #expect(Array("a%20b%c3%a9".utf8).withUnsafeBufferPointer { PercentEncoding.decode($0, into: &out) })
        #expect(out == Array("a bé".utf8))
        for bad in ["%", "%4", "a%zz", "%4g"] {
            var ignored = [UInt8]()
            #expect(!Array(bad.utf8).withUnsafeBufferPointer { PercentEncoding.decode($0, into: &ignored) }, "\(bad)")
        }
        #expect(!PercentEncoding.isValidUTF8([0xC3]))
        #expect(PercentEncoding.isValidUTF8([0xC3, 0xA9]))
    }

    @Test("ids: duplicates found before and after the switch to hashing")
    func ids() {
        var set = IDSet()
        for i in 0..<100 {
            let added = set.insert("id-\(i)")
            #expect(added)
        }
        for i in 0..<100 {
            let added = set.insert("id-\(i)")
            #expect(!added)
        }
    }

    @Test("a '#' that starts a longer character is no comment")
    func combiningHash() {
        let error = malformedFileError("twostep 1\n#\u{301} x\n")
        #expect(error?.line == 2)
        #expect(malformedFileError("twostep 1\n#\u{7F}x\n# é\n") == nil)
    }

    @Test("Base32 errors name the character, also after the fast path gives up")
    func base32() {
        #expect(throws: TwoStepError.base32InvalidCharacter("é", position: 2)) { try Base32.decode("ABé") }
        #expect(throws: TwoStepError.base32InvalidCharacter("\r\n", position: 1)) { try Base32.decode("A\r\nB") }
        #expect(throws: TwoStepError.base32InvalidCharacter("1", position: 1)) { try Base32.decode("A1") }
        #expect(throws: TwoStepError.base32InvalidCharacter("A", position: 2)) { try Base32.decode("A=A") }
    }
}
