/// Everything twostep knows about one user: factors, trusted devices and
/// verification state. A value: the verifier takes one and returns a new one.
///
/// The text form (version 1, see `twostep-factors(5)`):
///
///     # twostep factor file: see twostep-factors(5)
///     twostep 1
///     failures count=0002 locked-until=0000000000 last=1764221000 accepted=1764220815
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=… label=Phone created=1764220800 last-step=58807360
///     backup id=backup-1 salt=… hash=… created=1764220800
///     trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800
///     phone id=phone-1 number=+966501234534 channel=sms label=Mobile created=1764220800
///     pending id=pending-1 phone=phone-1 salt=… hash=… created=1764221000 expires=1764221300
///     sends times=1764221000
///
/// Lines are printable ASCII (values are %-encoded). Blank lines and lines
/// starting with `#` are ignored. The `twostep` line
/// comes first; every other line starts with a known keyword and carries
/// exactly the fields that keyword defines.
public struct FactorFile: Sendable, Equatable {
    /// The version this code reads and writes.
    public static let version = 1

    /// The kinds of factor a file can hold, by line keyword.
    public static let kinds: [any Factor.Type] = [TOTPAuthenticator.self, BackupCode.self, Phone.self, PendingCode.self]

    /// Every factor, in file order.
    public var factors: [any Factor]
    /// Devices the user chose to trust.
    public var trustedDevices: [TrustedDevice]
    /// Wrong codes in a row and any lock-out.
    public var failures: FailureState
    /// Recent codes sent to phones, for the send limit.
    public var sends: SendLog
    /// Where each factor and trusted device of a parsed file was in its text
    /// (nil for a file made in memory); see `bytes(reusingLinesOf:in:)`.
    /// Not part of the value: files are equal when they write the same text.
    var source: SourceLines?

    public init(factors: [any Factor] = [], trustedDevices: [TrustedDevice] = [], failures: FailureState = FailureState(),
                sends: SendLog = SendLog()) {
        self.factors = factors
        self.trustedDevices = trustedDevices
        self.failures = failures
        self.sends = sends
    }

    /// Files are equal when they write the same text.
    public static func == (a: FactorFile, b: FactorFile) -> Bool { a.text == b.text }

    /// The factors of one kind.
    public func factors<F: Factor>(of type: F.Type) -> [F] {
        // Factor kinds are structs, so a kind is its exact type: comparing
        // metatypes first spares a dynamic cast of every other factor.
        factors.compactMap { Swift.type(of: $0) == F.self ? $0 as? F : nil }
    }

    /// True when some factor is of kind `type`.
    public func has<F: Factor>(_ type: F.Type) -> Bool { factors.contains { Swift.type(of: $0) == F.self } }

    /// The authenticator apps.
    public var authenticators: [TOTPAuthenticator] { factors(of: TOTPAuthenticator.self) }
    /// The unused backup codes.
    public var backupCodes: [BackupCode] { factors(of: BackupCode.self) }

    /// Two-step verification is on when the user has at least one factor
    /// that is a way in (a pending code alone is not).
    public var isEnabled: Bool { factors.contains { type(of: $0).isMethod } }

    /// The next free id `PREFIX-N`.
    public func nextID(prefix: String) -> String {
        let used = Set(factors.map(\.id) + trustedDevices.map(\.id))
        var n = 1
        while used.contains("\(prefix)-\(n)") { n += 1 }
        return "\(prefix)-\(n)"
    }

    // MARK: Text form

    /// The first two lines of every file.
    static let header = "# twostep factor file: see twostep-factors(5). Edit with the twostep command."
    static let versionLine = "twostep \(version)"

    /// The file's text, ending in a newline.
    public var text: String {
        var lines = LineBuffer(capacity: 220 + 200 * factors.count + 160 * trustedDevices.count + 12 * sends.times.count)
        lines.append(Self.header)
        lines.append(Self.versionLine)
        // The failures line comes first and always, at a fixed width, so that
        // counting a wrong code changes a few bytes near the start of the file
        // (FactorStore writes such a change in place: InPlacePatch).
        lines.append(keyword: FailureState.keyword) { failures.write(to: &$0) }
        for factor in factors {
            lines.append(keyword: type(of: factor).keyword) { factor.write(to: &$0) }
        }
        for device in trustedDevices {
            lines.append(keyword: TrustedDevice.keyword) { device.write(to: &$0) }
        }
        if !sends.isEmpty { lines.append(sends.record.text) }
        return lines.text
    }

    /// This file's text as bytes, for a file that is a changed copy of
    /// `original`, which was parsed from `originalBytes`: a factor or trusted
    /// device that is the same as the one at its place in `original` is
    /// copied from `originalBytes` instead of being written again (for a file
    /// in the writer's form, the very bytes `text` would make). Saves
    /// encoding every backup code and trusted device when a login changes
    /// one step or count. Without line places for `original`, or with a
    /// different number of records, it is `text`.
    public func bytes(reusingLinesOf original: FactorFile, in originalBytes: [UInt8]) -> [UInt8] {
        guard let source = original.source, source.factors.count == original.factors.count,
              source.trustedDevices.count == original.trustedDevices.count,
              source.upperBound <= originalBytes.count
        else { return Array(text.utf8) }
        var lines = LineBuffer(capacity: originalBytes.count + 64)
        lines.append(Self.header)
        lines.append(Self.versionLine)
        lines.append(keyword: FailureState.keyword) { failures.write(to: &$0) }
        // Arrays that still share the original's storage were never changed
        // (a change copies them first): every element is the same, with no
        // need to compare (a wrong code changes only the failures line).
        let sameFactors = Self.sharesStorage(factors, original.factors)
        let sameDevices = Self.sharesStorage(trustedDevices, original.trustedDevices)
        for (i, factor) in factors.enumerated() {
            if i < original.factors.count, sameFactors || factor.isSame(as: original.factors[i]) {
                lines.append(line: originalBytes[source.factors[i].range])
            } else {
                lines.append(keyword: type(of: factor).keyword) { factor.write(to: &$0) }
            }
        }
        for (i, device) in trustedDevices.enumerated() {
            if i < original.trustedDevices.count, sameDevices || device == original.trustedDevices[i] {
                lines.append(line: originalBytes[source.trustedDevices[i].range])
            } else {
                lines.append(keyword: TrustedDevice.keyword) { device.write(to: &$0) }
            }
        }
        if !sends.isEmpty { lines.append(sends.record.text) }
        return lines.takeBytes()
    }

    /// True when `a` and `b` are one array buffer (copies of one value that
    /// neither changed since): then they hold the same elements.
    static func sharesStorage<T>(_ a: [T], _ b: [T]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }

    /// Parses the text form. Strict: an unknown version or keyword, a
    /// malformed or incomplete line, an unknown field, a duplicate id or a
    /// second `twostep`/`failures`/`sends` line is an error naming the line number.
    public init(parsing text: String) throws(TwoStepError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Parses the text form from its UTF-8 bytes (as read from the file;
    /// the caller checks that they are UTF-8). The same rules as
    /// `init(parsing:)` with a string.
    public init(parsing bytes: [UInt8]) throws(TwoStepError) {
        var parser = FactorFileParser()
        // Lines are cut at the newline byte: Swift's Character view would
        // treat "\r\n" as one character and join lines.
        let lines = try bytes.withUnsafeBufferPointer { buffer throws(TwoStepError) in
            var start = 0
            var lineNumber = 0
            while true {
                lineNumber += 1
                let end = ByteScan.firstIndex(of: UInt8(ascii: "\n"), in: buffer, from: start)
                try parser.read(bytes, buffer, line: start..<end, number: lineNumber)
                guard end < buffer.count else { return lineNumber }
                start = end + 1
            }
        }
        self = try parser.finish(lines: lines)
    }

    static func isValidID(_ id: String) -> Bool {
        guard !id.isEmpty && id.utf8.count <= 64 else { return false }
        let valid = id.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isIDByte) }
        return valid ?? id.utf8.allSatisfy(isIDByte)
    }

    /// Letters, digits, `-`, `.` and `_`.
    private static func isIDByte(_ b: UInt8) -> Bool {
        PercentEncoding.isUnreserved(b) && b != UInt8(ascii: "~")
    }
}

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
    private var spans = [Record.FieldSpan]()

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
        let record = try Record(parsing: bytes, bounds: range, line: lineNumber, spans: &spans)
        guard sawVersion else {
            throw .malformedFile(line: lineNumber, reason: "the file must start with 'twostep \(FactorFile.version)'")
        }
        var id: String?
        let name = record.keywordName
        if name == Self.trustName {
            let device = try TrustedDevice(record)
            id = device.id
            file.trustedDevices.append(device)
            source.trustedDevices.append(SourceLines.Line(range))
        } else if name == Self.failuresName {
            guard !sawFailures else { throw .malformedFile(line: lineNumber, reason: "a second 'failures' line") }
            sawFailures = true
            file.failures = try FailureState(record)
        } else if name == Self.sendsName {
            guard !sawSends else { throw .malformedFile(line: lineNumber, reason: "a second 'sends' line") }
            sawSends = true
            file.sends = try SendLog(record)
        } else {
            guard let k = Self.kindNames.firstIndex(of: name) else {
                throw .malformedFile(line: lineNumber, reason: "unknown keyword '\(record.keyword.prefix(20))'")
            }
            var reader = RecordReader(record)
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
    mutating func append(keyword: String, _ write: (inout Record) -> Void) {
        var record = Record(keyword: keyword, taking: &bytes)
        write(&record)
        bytes = record.takeStorage()
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
