/// The state of `FactorFile(parsing:)` between lines.
struct FactorFileParser {
    private var file: FactorFile = {
        var file = FactorFile()
        file.factors.reserveCapacity(16)  // a typical file: an app and ten backup codes
        return file
    }()
    private var source: SourceLines = {
        var source = SourceLines()
        source.factors.reserveCapacity(16)
        return source
    }()
    private var sawVersion = false
    private var sawFailures = false
    private var sawSends = false
    private var ids = IDSet()
    /// Field places, reused from line to line.
    private var spans = [FactorLine.FieldSpan]()

    /// Reads the line `range` of `bytes` (whose bytes `buffer` points to), numbered `number`.
    mutating func read(_ bytes: [UInt8], _ buffer: UnsafeBufferPointer<UInt8>, line range: Range<Int>,
                       number lineNumber: Int) throws(TwoStepError) {
        if range.isEmpty || Self.isComment(bytes, range) { return }
        // The writer %-encodes everything else, so a line is printable ASCII.
        guard ByteScan.isPrintableASCII(UnsafeBufferPointer(rebasing: buffer[range])) else {
            throw .malformedFile(line: lineNumber, reason: "control character or non-ASCII byte in the line")
        }
        if let version = Self.version(bytes, range) {
            guard !sawVersion else { throw .malformedFile(line: lineNumber, reason: "a second 'twostep' version line") }
            guard version.elementsEqual(String(FactorFile.version).utf8) else {
                let shown = String(decoding: version, as: UTF8.self)
                throw .malformedFile(line: lineNumber, reason: "unsupported version '\(shown.prefix(10))' (this twostep reads version \(FactorFile.version))")
            }
            sawVersion = true
            return
        }
        let parsed = try FactorLine(parsing: bytes, bounds: range, line: lineNumber, spans: &spans)
        guard sawVersion else {
            throw .malformedFile(line: lineNumber, reason: "the file must start with 'twostep \(FactorFile.version)'")
        }
        var id: String?
        let name = parsed.keywordName
        if name == Self.trustName {
            let device = try TrustedDevice(parsed)
            id = device.id
            file.trustedDevices.append(device)
            source.trustedDevices.append(SourceLines.Line(range))
        } else if name == Self.failuresName {
            guard !sawFailures else { throw .malformedFile(line: lineNumber, reason: "a second 'failures' line") }
            sawFailures = true
            file.failures = try FailureState(parsed)
        } else if name == Self.sendsName {
            guard !sawSends else { throw .malformedFile(line: lineNumber, reason: "a second 'sends' line") }
            sawSends = true
            file.sends = try SendLog(parsed)
        } else {
            guard let k = Self.kindNames.firstIndex(of: name) else {
                throw .malformedFile(line: lineNumber, reason: "unknown keyword '\(parsed.keyword.prefix(20))'")
            }
            var reader = FactorLineReader(parsed)
            id = try FactorFile.kinds[k].read(from: &reader, appendingTo: &file.factors)
            source.factors.append(SourceLines.Line(range))
        }
        if let id {
            guard FactorFile.isValidID(id) else { throw .malformedFile(line: lineNumber, reason: "id '\(id.prefix(20))' is not letters, digits and '-'") }
            guard ids.insert(id) else { throw .malformedFile(line: lineNumber, reason: "id '\(id)' is used twice") }
        }
    }

    /// The keywords, packed for integer compares (every one is at most 16
    /// bytes, so equal packed names are equal keywords).
    private static let trustName = PackedName(TrustedDevice.keyword)
    private static let failuresName = PackedName(FailureState.keyword)
    private static let sendsName = PackedName(SendLog.keyword)
    private static let kindNames = FactorFile.kinds.map { PackedName($0.keyword) }

    /// The file, once every one of its `lines` lines was read.
    func finish(lines: Int) throws(TwoStepError) -> FactorFile {
        guard sawVersion else { throw .malformedFile(line: max(lines, 1), reason: "no 'twostep \(FactorFile.version)' version line") }
        var file = file
        file.source = source
        return file
    }

    /// A line whose first character is `#`. A `#` followed by an ASCII byte
    /// is that character; followed by more, it may be the start of a longer
    /// one (`#` and a combining mark), which is not `#`.
    static func isComment(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        guard bytes[range.lowerBound] == UInt8(ascii: "#") else { return false }
        guard range.count > 1, bytes[range.lowerBound + 1] >= 0x80 else { return true }
        return String(decoding: bytes[range], as: UTF8.self).first == "#"
    }

    /// The text after `twostep ` on a version line (empty for a bare
    /// `twostep`); nil for any other line.
    static func version(_ bytes: [UInt8], _ range: Range<Int>) -> ArraySlice<UInt8>? {
        let word = "twostep"
        let after = range.lowerBound + word.utf8.count
        // Two bytes first: `trust` and `totp` lines also start with `t`.
        guard range.count >= word.utf8.count, bytes[range.lowerBound] == UInt8(ascii: "t"),
              bytes[range.lowerBound + 1] == UInt8(ascii: "w"),
              bytes.withUnsafeBufferPointer({ ByteScan.equal(UnsafeBufferPointer(rebasing: $0[range.lowerBound..<after]), word) })
        else { return nil }
        if after == range.upperBound { return bytes[after..<after] }
        guard bytes[after] == UInt8(ascii: " ") else { return nil }
        return bytes[(after + 1)..<range.upperBound]
    }
}

/// The text of a file as it is written: lines appended to one byte buffer.
struct LineBuffer {
    private var bytes = [UInt8]()

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Appends `line` and a newline.
    mutating func append(_ line: String) {
        ByteScan.append(line, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends the record line `keyword` with the fields `write` appends, and a newline.
    mutating func append(keyword: String, _ write: (inout FactorLine) -> Void) {
        var line = FactorLine(keyword: keyword, taking: &bytes)
        write(&line)
        bytes = line.takeStorage()
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Appends the bytes of a line already written, and a newline.
    mutating func append(line: ArraySlice<UInt8>) {
        bytes.append(contentsOf: line)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// The text so far.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The bytes so far, handed over (the buffer is left empty).
    mutating func takeBytes() -> [UInt8] {
        var taken = [UInt8]()
        swap(&taken, &bytes)
        return taken
    }
}

/// The byte ranges (without the newline) of a parsed file's factor and
/// trusted-device lines, in order.
struct SourceLines: Sendable {
    /// One line's bytes. Not `Range<Int>`: an array of a generic type whose
    /// parameter must conform to a protocol (`Comparable`) makes the Swift
    /// runtime search every conformance of the static standard library on
    /// first use, in every process that loads the module (~90 k
    /// instructions before the first login).
    struct Line: Sendable {
        var start: Int
        var end: Int

        init(_ range: Range<Int>) {
            start = range.lowerBound
            end = range.upperBound
        }

        var range: Range<Int> { start..<end }
    }

    var factors: [Line] = []
    var trustedDevices: [Line] = []

    /// The end of the last line recorded.
    var upperBound: Int { max(factors.last?.end ?? 0, trustedDevices.last?.end ?? 0) }
}

/// The ids seen so far in a file: an open-addressing table of their
/// FNV-1a digests (the strings are compared only when digests are equal),
/// cheaper than `Set<String>`'s seeded hashing of every id.
struct IDSet {
    private var ids = [String]()
    private var digests = [UInt64]()
    /// Slot `i`: 0 when free, else 1 + the index of an id in `ids`. The
    /// number of slots is a power of two, at least twice the ids.
    private var slots = [Int32](repeating: 0, count: 64)

    init() {
        // Room for a typical file's ids (an app, ten backup codes, a few
        // trusted devices) without growing.
        ids.reserveCapacity(16)
        digests.reserveCapacity(16)
    }

    /// Adds `id`; false when it was there already.
    mutating func insert(_ id: String) -> Bool {
        let digest = Self.digest(id)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: digest) & mask
        while slots[i] != 0 {
            let k = Int(slots[i]) - 1
            if digests[k] == digest && ids[k] == id { return false }
            i = (i + 1) & mask
        }
        ids.append(id)
        digests.append(digest)
        slots[i] = Int32(truncatingIfNeeded: ids.count)
        if 2 * ids.count > slots.count { grow() }
        return true
    }

    /// Doubles the table and places every id again.
    private mutating func grow() {
        var bigger = [Int32](repeating: 0, count: 2 * slots.count)
        let mask = bigger.count - 1
        for (k, digest) in digests.enumerated() {
            var i = Int(truncatingIfNeeded: digest) & mask
            while bigger[i] != 0 { i = (i + 1) & mask }
            bigger[i] = Int32(truncatingIfNeeded: k + 1)
        }
        slots = bigger
    }

    /// FNV-1a of the UTF-8 bytes.
    static func digest(_ id: String) -> UInt64 {
        id.utf8.withContiguousStorageIfAvailable(digest) ?? digest(id.utf8)
    }

    private static func digest<C: Collection<UInt8>>(_ bytes: C) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        // Fold the high bits in: the table index takes the low ones.
        return hash ^ (hash >> 29)
    }
}
