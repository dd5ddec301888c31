import Testing
@testable import TwoStepCore

/// The helpers behind the allocation-free parser: packed names, the
/// two-byte scan, inline salts and hashes, hex into a fixed buffer.
@Suite("FactorFile: packed names, byte scans, inline bytes")
struct PackedBytesTests {
    /// Packs `text` through every entry point.
    static func packings(_ text: String, padding: Int) -> [PackedName] {
        let bytes = Array(text.utf8)
        let padded = [UInt8](repeating: 0x41, count: padding) + bytes + [UInt8](repeating: 0x3d, count: padding)
        return [
            PackedName(text),
            bytes.withUnsafeBufferPointer { PackedName($0) },
            padded.withUnsafeBufferPointer { PackedName($0, padding..<(padding + bytes.count)) },
        ]
    }

    @Test("a name packs the same from a String, a buffer, and a range with neighbours on either side",
          arguments: ["", "a", "id", "created", "expires!", "locked-until", "sixteen-bytes-xx", "seventeen-bytes-x", "ö-ü"])
    func packSame(text: String) {
        for padding in [0, 1, 7, 16, 20] {
            let all = Self.packings(text, padding: padding)
            #expect(all.allSatisfy { $0 == all[0] }, "\(text) padding \(padding)")
            #expect(all[0].count == text.utf8.count)
            #expect(all[0].isExact == (text.utf8.count <= 16))
        }
    }

    @Test("names up to 16 bytes are equal exactly when their packed forms are")
    func packDistinct() {
        let names = ["", "a", "b", "ab", "ba", "a\u{0}", "id", "ids", "key", "keys", "last", "last-step", "locked-until",
                     "sixteen-bytes-xx", "sixteen-bytes-xy", "created", "expires"]
        for a in names {
            for b in names {
                #expect((PackedName(a) == PackedName(b)) == (a == b), "\(a) \(b)")
            }
        }
        // Longer names compare on 16 bytes and the length only.
        #expect(PackedName("seventeen-bytes-x") == PackedName("seventeen-bytes-y"))
        #expect(!PackedName("seventeen-bytes-x").isExact)
    }

    @Test("field keys match their own bytes only, also past 16 bytes")
    func fieldKeys() {
        let short: FieldKey = "rhost"
        let long: FieldKey = "a-key-longer-than-sixteen"
        #expect(short.description == "rhost" && long.description == "a-key-longer-than-sixteen")
        Array("rhost".utf8).withUnsafeBufferPointer { #expect(short.matches($0)) }
        Array("rhosts".utf8).withUnsafeBufferPointer { #expect(!short.matches($0)) }
        Array("a-key-longer-than-sixteen".utf8).withUnsafeBufferPointer { #expect(long.matches($0)) }
        Array("a-key-longer-than-sixteeN".utf8).withUnsafeBufferPointer { #expect(!long.matches($0)) }
    }

    @Test("a record reads keys longer than 16 bytes and tells apart keys that share 16")
    func longKeys() throws {
        let record = try FactorLine(parsing: "kw a-key-longer-than-sixteen=1 a-key-longer-than-sixteeN=2", line: 1)
        var reader = FactorLineReader(record)
        let value = reader.optional("a-key-longer-than-sixteeN")
        #expect(value == "2")
        #expect(throws: TwoStepError.malformedFile(line: 1, reason: "kw: unknown field 'a-key-longer-than-sixteen'")) { try reader.finish() }
        #expect(throws: TwoStepError.malformedFile(line: 2, reason: "field 'a-key-longer-than-sixteen-x' appears twice")) {
            try FactorLine(parsing: "kw a-key-longer-than-sixteen-x=1 a-key-longer-than-sixteen-y=2 a-key-longer-than-sixteen-x=3", line: 2)
        }
    }

    @Test("the two-byte scan agrees with a byte-by-byte search")
    func scanTwo() throws {
        for length in 0..<40 {
            for _ in 0..<30 {
                var bytes = [UInt8]()
                for _ in 0..<length { bytes.append([0x61, 0x20, 0x25, 0x3d, 0x80, 0xff][try randomInt(in: 0...5)]) }
                let from = try randomInt(in: 0...length), to = try randomInt(in: from...length)
                for (a, b) in [(UInt8(0x20), UInt8(0x25)), (0x3d, 0x20), (0x20, 0x20), (0xff, 0x80)] {
                    let expected = (from..<to).first { bytes[$0] == a || bytes[$0] == b } ?? to
                    let found = bytes.withUnsafeBufferPointer { ByteScan.firstIndex(of: a, or: b, in: $0, from: from, to: to) }
                    #expect(found == expected, "\(bytes) \(from)..<\(to) \(a) \(b)")
                }
            }
        }
    }

    @Test("inline bytes: exact lengths only, hex in either case, equality, array view")
    func inlineBytes() throws {
        let bytes = try randomBytes(16)
        let salt = try #require(InlineBytes16(exactly: bytes))
        #expect(Array(salt) == bytes && salt.bytes == bytes && salt == bytes && salt.count == 16)
        #expect(InlineBytes16(exactly: bytes.dropLast()) == nil)
        #expect(InlineBytes32(exactly: bytes) == nil)
        let hex = Hex.encode(bytes)
        let decoded = Array(hex.utf8).withUnsafeBufferPointer { InlineBytes16(hex: $0) }
        let upper = Array(hex.uppercased().utf8).withUnsafeBufferPointer { InlineBytes16(hex: $0) }
        #expect(decoded == salt && upper == salt)
        for bad in [String(hex.dropLast()), hex + "0", String(hex.dropLast()) + "g", String(repeating: "zz", count: 16), ""] {
            #expect(Array(bad.utf8).withUnsafeBufferPointer { InlineBytes16(hex: $0) } == nil, "\(bad)")
        }
        var other = salt
        other.withUnsafeMutableBytes { $0[15] ^= 1 }
        #expect(other != salt && Set([salt, other, salt]).count == 2)
    }

    @Test("hex into a fixed buffer: exactly twice its length, hex digits only")
    func hexInto() {
        var out = [UInt8](repeating: 0, count: 3)
        let ok = Array("0aFf10".utf8).withUnsafeBufferPointer { chars in out.withUnsafeMutableBytes { Hex.decode(chars, into: $0) } }
        #expect(ok && out == [0x0a, 0xff, 0x10])
        for bad in ["0aFf1", "0aFf100", "0aFf1x"] {
            let rejected = Array(bad.utf8).withUnsafeBufferPointer { chars in out.withUnsafeMutableBytes { !Hex.decode(chars, into: $0) } }
            #expect(rejected, "\(bad)")
        }
    }

    @Test("salted code hashes: stored inline, checked in constant time, round trip through the file")
    func saltedHash() throws {
        let stored = try SaltedCodeHash(code: Array("k7m2x9qp4r".utf8))
        #expect(stored.matches(Array("k7m2x9qp4r".utf8)))
        #expect(!stored.matches(Array("k7m2x9qp4s".utf8)))
        let code = BackupCode(id: "backup-1", salt: stored.salt, hash: stored.hash, created: 1)
        let file = try FactorFile(parsing: FactorFile(factors: [code]).text)
        #expect(file.backupCodes == [code])
    }

    @Test("decimal fields: the 19th digit is checked for overflow, shorter ones are not needed to be",
          arguments: [("999999999999999999", Int64(999_999_999_999_999_999)), ("9223372036854775807", Int64.max),
                      ("9223372036854775808", nil), ("9999999999999999999", nil), ("00000000000000000000", nil),
                      ("0000000000000000001", 1), ("12345678901234567/", nil), (":", nil)] as [(String, Int64?)])
    func decimalEdges(text: String, value: Int64?) {
        #expect(Array(text.utf8).withUnsafeBufferPointer { DecimalDigits.parse($0) } == value)
    }

    @Test("decimal writing matches String(_:) for signs, edges and every width")
    func decimalWrite() {
        var values: [Int64] = [0, 1, -1, 9, 10, 99, 100, -100, Int64.max, Int64.min]
        var p: Int64 = 1
        for _ in 0..<18 { p *= 10; values += [p - 1, p, p + 1, -p] }
        for v in values {
            var out = [UInt8]()
            DecimalDigits.append(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
        var out = [UInt8]()
        DecimalDigits.append(UInt64.max, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(UInt64.max))
    }

    @Test("stack bytes: written in order, appended in one go, capacity checked before writing")
    func stackBytes() {
        var field = StackBytes()
        #expect(field.fits(StackBytes.capacity) && !field.fits(StackBytes.capacity + 1) && !field.fits(-1))
        field.put(UInt8(ascii: " "))
        field.put("key")
        Array("=value".utf8).withUnsafeBufferPointer { field.put($0) }
        var out = Array("kw".utf8)
        field.append(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "kw key=value" && field.count == 10)
        #expect(!field.fits(StackBytes.capacity - 9))
    }

    @Test("fields written on the stack and piecewise give the same line",
          arguments: [0, 1, 40, 85, 86, 87, 94, 95, 96, 200])
    func fieldPaths(length: Int) throws {
        let clean = String(repeating: "a", count: length)
        let escaped = String(repeating: "é ", count: length / 3 + 1)
        var record = FactorLine(keyword: "kw")
        record.append("k", clean)
        record.append("e", escaped)
        record.append("n", Int64(-length))
        record.append("h", hex: [UInt8](repeating: 0xab, count: length / 2))
        let expected = "kw k=\(clean) e=\(PercentEncoding.encode(escaped, alsoAllowed: FactorLine.valueSafe)) n=\(-length) h=\(String(repeating: "ab", count: length / 2))"
        #expect(record.text == expected)
        var reader = FactorLineReader(try FactorLine(parsing: Substring(record.text), line: 1))
        #expect(reader.optional("k") == clean && reader.optional("e") == escaped)
    }
}
