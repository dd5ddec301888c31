/// One line of the factor file: a keyword and `key=value` fields.
///
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=JBSW… label=Phone created=1764220800
///
/// Values are percent-encoded (a space is `%20`), so a line splits on single
/// spaces without ambiguity.
///
/// A record is bytes, not strings (this parser runs on every login): a
/// parsed record is a range of the file's UTF-8 bytes, shared and not
/// copied, with the places of its fields; a value is made into a `String`
/// or decoded only when it is read. A record built in memory holds its own
/// line, written as fields are appended.
public struct Record: Sendable, Equatable {
    /// Where one field lies in the record's bytes: the key is
    /// `keyStart..<equals`, the value `equals + 1..<end`.
    struct FieldSpan: Sendable {
        var keyStart: Int
        var equals: Int
        var end: Int
        /// The value holds a `%` escape, so it must be decoded to be read.
        var escaped: Bool
        /// The key packed for integer compares.
        var name: PackedName

        var key: Range<Int> { keyStart..<equals }
        var value: Range<Int> { (equals + 1)..<end }
    }

    /// The bytes the line lies in: the whole file for a parsed record, the
    /// line alone (or the file written so far) for a built one.
    private(set) var storage: [UInt8]
    /// The line (no newline) within `storage`.
    private var bounds: Range<Int>
    /// Where the keyword ends within `storage`.
    private var keywordEnd: Int
    /// The keyword packed for integer compares.
    private(set) var keywordName: PackedName
    /// The fields the parser found; nil for a built record (found on demand).
    private var parsedSpans: [FieldSpan]?
    /// 1-based line number in the file (0 for a record made in memory).
    public var line: Int

    /// A record with `keyword` and `fields`, written as `append` writes them.
    public init(keyword: String, fields: [(key: String, value: String)] = [], line: Int = 0) {
        var storage = [UInt8]()
        storage.reserveCapacity(64)
        self.init(keyword: keyword, taking: &storage, line: line)
        for field in fields { append(field.key, field.value) }
    }

    /// A record that writes its line at the end of `buffer`, which it takes
    /// over (no copy); `takeStorage()` hands the buffer back.
    init(keyword: String, taking buffer: inout [UInt8], line: Int = 0) {
        storage = []
        swap(&storage, &buffer)
        let start = storage.count
        storage.append(contentsOf: keyword.utf8)
        bounds = start..<storage.count
        keywordEnd = storage.count
        keywordName = PackedName(keyword)
        parsedSpans = nil
        self.line = line
    }

    /// Gives the bytes back (leaving the record empty), so that the caller
    /// holds the only reference and can keep appending without a copy.
    mutating func takeStorage() -> [UInt8] {
        var taken = [UInt8]()
        swap(&taken, &storage)
        bounds = 0..<0
        keywordEnd = 0
        return taken
    }

    /// The first word of the line, naming what the line holds.
    public var keyword: String { String(decoding: storage[bounds.lowerBound..<keywordEnd], as: UTF8.self) }

    /// True when the keyword is `keyword` (a byte compare, no `String` made).
    public func hasKeyword(_ keyword: String) -> Bool {
        hasKeyword(PackedName(keyword), keyword)
    }

    /// True when the keyword is `keyword`, packed as `name`.
    func hasKeyword(_ name: PackedName, _ keyword: String) -> Bool {
        guard keywordName == name else { return false }
        if name.isExact { return true }
        let range = bounds.lowerBound..<keywordEnd
        return storage.withUnsafeBufferPointer { ByteScan.equal(UnsafeBufferPointer(rebasing: $0[range]), keyword) }
    }

    /// The fields in the order they were read or written, values decoded.
    public var fields: [(key: String, value: String)] {
        spans.map { (key: key(of: $0), value: value(of: $0)) }
    }

    public static func == (a: Record, b: Record) -> Bool {
        a.keyword == b.keyword && a.fields.elementsEqual(b.fields, by: { $0.key == $1.key && $0.value == $1.value })
    }

    // MARK: Writing

    /// Bytes left unescaped in values besides RFC 3986's unreserved ones.
    static let valueSafe = ":/+@,"
    /// The unreserved bytes and `valueSafe`.
    static let valueAllowed = PercentEncoding.AllowedBytes(alsoAllowed: valueSafe)

    /// The line's text (no newline).
    public var text: String { String(decoding: storage[bounds], as: UTF8.self) }

    /// Writes ` key=` and moves the end of the line past what `body` writes.
    private mutating func appendField(_ key: String, _ body: (inout [UInt8]) -> Void) {
        storage.append(UInt8(ascii: " "))
        ByteScan.append(key, to: &storage)
        storage.append(UInt8(ascii: "="))
        body(&storage)
        bounds = bounds.lowerBound..<storage.count
        parsedSpans = nil
    }

    /// Builds ` key=` and the `valueCount` bytes `body` writes on the stack
    /// and appends them in one go; false (nothing written) when they do not
    /// fit in `StackBytes`.
    private mutating func appendSmallField(_ key: String, valueCount: Int, _ body: (inout StackBytes) -> Void) -> Bool {
        var field = StackBytes()
        guard field.fits(key.utf8.count + 2 + valueCount) else { return false }
        field.put(UInt8(ascii: " "))
        field.put(key)
        field.put(UInt8(ascii: "="))
        body(&field)
        field.append(to: &storage)
        bounds = bounds.lowerBound..<storage.count
        parsedSpans = nil
        return true
    }

    /// Appends a field; the value is percent-encoded.
    public mutating func append(_ key: String, _ value: String) {
        // Most values need no escape: those go in one append.
        let done = value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy(Self.valueAllowed.contains) && appendSmallField(key, valueCount: bytes.count) { $0.put(bytes) }
        }
        if done == true { return }
        appendField(key) { PercentEncoding.append(value, allowed: Self.valueAllowed, to: &$0) }
    }

    /// Appends a field when `value` is not nil.
    public mutating func append(_ key: String, _ value: String?) {
        if let value { append(key, value) }
    }

    /// Appends a decimal integer field, written as `String(value)` writes it.
    public mutating func append<I: FixedWidthInteger>(_ key: String, _ value: I) {
        let written = appendSmallField(key, valueCount: DecimalDigits.maxLength) { DecimalDigits.write(value, to: &$0) }
        if !written { appendField(key) { DecimalDigits.append(value, to: &$0) } }
    }

    /// Appends a decimal integer field with leading zeros up to `width`
    /// digits (more digits when the value has them; a negative value is
    /// written as `append(_:_:)` writes it).
    public mutating func append<I: FixedWidthInteger>(_ key: String, _ value: I, width: Int) {
        let written = appendSmallField(key, valueCount: max(width, DecimalDigits.maxLength)) {
            DecimalDigits.write(value, minimumWidth: width, to: &$0)
        }
        if !written { appendField(key) { DecimalDigits.append(value, minimumWidth: width, to: &$0) } }
    }

    /// Appends a field of bytes in lower-case hex.
    public mutating func append(_ key: String, hex bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(key, hex: $0) }
    }

    /// Appends a field of bytes in lower-case hex.
    public mutating func append(_ key: String, hex bytes: UnsafeRawBufferPointer) {
        let written = appendSmallField(key, valueCount: 2 * bytes.count) { Hex.write(bytes, to: &$0) }
        if !written { appendField(key) { Hex.append(bytes, to: &$0) } }
    }

    /// Appends a field of bytes in Base32 without padding.
    public mutating func append(_ key: String, base32 bytes: UnsafeRawBufferPointer) {
        appendField(key) { Base32.append(bytes, to: &$0) }
    }

    // MARK: Parsing

    /// Parses one non-empty, non-comment line. Throws `malformedFile` naming `line`.
    public init(parsing text: Substring, line: Int) throws(TwoStepError) {
        var spans = [FieldSpan]()
        let bytes = Array(text.utf8)
        try self.init(parsing: bytes, bounds: bytes.startIndex..<bytes.endIndex, line: line, spans: &spans)
    }

    /// Parses the line `bounds` of `bytes` (shared, not copied). `spans` is
    /// scratch space kept from line to line so that its storage is reused.
    init(parsing bytes: [UInt8], bounds: Range<Int>, line: Int, spans: inout [FieldSpan]) throws(TwoStepError) {
        spans.removeAll(keepingCapacity: true)
        let (end, name) = try bytes.withUnsafeBufferPointer { buffer throws(TwoStepError) in
            let end = try Self.tokenize(buffer, bounds, line: line, into: &spans)
            return (end, PackedName(buffer, bounds.lowerBound..<end))
        }
        keywordEnd = end
        keywordName = name
        storage = bytes
        self.bounds = bounds
        parsedSpans = spans
        self.line = line
    }

    /// Finds the keyword and the fields of a line in one pass over its bytes
    /// and returns where the keyword ends. Every check of the line itself is
    /// here, in the order of the fields: an empty word (two spaces, a space
    /// at either end), a word without `key=`, a key seen before, a value with
    /// a bad `%` escape or one that decodes to bytes that are not UTF-8.
    static func tokenize(_ s: UnsafeBufferPointer<UInt8>, _ bounds: Range<Int>, line: Int, into spans: inout [FieldSpan]) throws(TwoStepError) -> Int {
        let space = UInt8(ascii: " "), equalsSign = UInt8(ascii: "="), percent = UInt8(ascii: "%")
        precondition(0 <= bounds.lowerBound && bounds.upperBound <= s.count, "Record.tokenize: line out of bounds")
        let end = bounds.upperBound
        // Words are short: a plain loop beats a call to memchr.
        var i = bounds.lowerBound
        while i < end && s[i] != space { i += 1 }
        let keywordEnd = i
        guard keywordEnd > bounds.lowerBound else {
            throw .malformedFile(line: line, reason: "the line starts with a space")
        }
        while i < end {  // s[i] is a space
            let start = i + 1
            let equals = ByteScan.firstIndex(of: equalsSign, or: space, in: s, from: start, to: end)
            guard equals < end && s[equals] == equalsSign && equals > start else {
                let j = ByteScan.firstIndex(of: space, or: space, in: s, from: start, to: end)
                guard j > start else { throw .malformedFile(line: line, reason: "two spaces in a row, or a space at the end") }
                let word = String(decoding: UnsafeBufferPointer(rebasing: s[start..<j]), as: UTF8.self)
                throw .malformedFile(line: line, reason: "'\(word.prefix(20))' is not key=value")
            }
            var j = ByteScan.firstIndex(of: space, or: percent, in: s, from: equals + 1, to: end)
            let escaped = j < end && s[j] == percent
            if escaped { j = ByteScan.firstIndex(of: space, or: space, in: s, from: j, to: end) }
            let key = UnsafeBufferPointer(rebasing: s[start..<equals])
            let span = FieldSpan(keyStart: start, equals: equals, end: j, escaped: escaped, name: PackedName(s, start..<equals))
            // A handful of fields per line: a linear scan of packed keys beats hashing.
            for other in spans where other.name == span.name && (span.name.isExact || s[other.key].elementsEqual(key)) {
                throw .malformedFile(line: line, reason: "field '\(String(decoding: key, as: UTF8.self))' appears twice")
            }
            if escaped {
                var decoded = [UInt8]()
                guard PercentEncoding.decode(UnsafeBufferPointer(rebasing: s[span.value]), into: &decoded),
                      PercentEncoding.isValidUTF8(decoded) else {
                    throw .malformedFile(line: line, reason: "field '\(String(decoding: key, as: UTF8.self))' has a bad %-escape")
                }
            }
            spans.append(span)
            i = j
        }
        return keywordEnd
    }

    /// The field places, moved out of a parsed record (no copy, no
    /// reference count): the record keeps none afterwards and finds them
    /// again if asked.
    mutating func takeSpans() -> [FieldSpan] {
        guard let taken = parsedSpans else { return spans }
        parsedSpans = nil
        return taken
    }

    /// The field places: the parser's, or found now for a built record
    /// (whose lines the tokenizer always takes: values are encoded).
    var spans: [FieldSpan] {
        if let parsedSpans { return parsedSpans }
        var found = [FieldSpan]()
        let bounds = bounds, line = line
        do {
            _ = try storage.withUnsafeBufferPointer { buffer throws(TwoStepError) in
                try Self.tokenize(buffer, bounds, line: line, into: &found)
            }
        } catch { return found }
        return found
    }

    /// The key of `span`.
    func key(of span: FieldSpan) -> String { String(decoding: storage[span.key], as: UTF8.self) }

    /// True when the key of `span` is `key`.
    func key(of span: FieldSpan, is key: FieldKey) -> Bool {
        guard span.name == key.packed else { return false }
        if key.packed.isExact { return true }
        return storage.withUnsafeBufferPointer { key.matches(UnsafeBufferPointer(rebasing: $0[span.key])) }
    }

    /// Calls `body` with the value of `span`, %-decoded.
    func withValue<R>(of span: FieldSpan, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        storage.withUnsafeBufferPointer { all in
            let raw = UnsafeBufferPointer(rebasing: all[span.value])
            guard span.escaped else { return body(raw) }
            var decoded = [UInt8]()
            decoded.reserveCapacity(raw.count)
            _ = PercentEncoding.decode(raw, into: &decoded)  // checked when parsed
            return decoded.withUnsafeBufferPointer(body)
        }
    }

    /// The value of `span`, %-decoded.
    func value(of span: FieldSpan) -> String {
        withValue(of: span) { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in
                _ = out.initialize(fromContentsOf: bytes)
                return bytes.count
            }
        }
    }
}

/// Decimal integers as bytes, without going through `String`.
enum DecimalDigits {
    /// Appends `value` as `String(value)` writes it (a `-` and the digits).
    static func append<I: FixedWidthInteger>(_ value: I, to out: inout [UInt8]) {
        withDigits(value) { out.append(contentsOf: $0) }
    }

    /// The most bytes `write` writes: a sign and 20 digits.
    static let maxLength = 21

    /// Writes `value` as `String(value)` writes it.
    static func write<I: FixedWidthInteger>(_ value: I, to out: inout StackBytes) {
        withDigits(value) { out.put($0) }
    }

    /// Writes `value` with leading zeros up to `minimumWidth` digits (a
    /// negative value unpadded).
    static func write<I: FixedWidthInteger>(_ value: I, minimumWidth: Int, to out: inout StackBytes) {
        withDigits(value) { digits in
            for _ in 0..<padding(value, digits.count, minimumWidth) { out.put(UInt8(ascii: "0")) }
            out.put(digits)
        }
    }

    /// Appends `value` as `write(_:minimumWidth:to:)` writes it.
    static func append<I: FixedWidthInteger>(_ value: I, minimumWidth: Int, to out: inout [UInt8]) {
        withDigits(value) { digits in
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: padding(value, digits.count, minimumWidth)))
            out.append(contentsOf: digits)
        }
    }

    /// The zeros that pad `count` digits of `value` to `minimumWidth`.
    private static func padding<I: FixedWidthInteger>(_ value: I, _ count: Int, _ minimumWidth: Int) -> Int {
        value < 0 ? 0 : max(0, minimumWidth - count)
    }

    /// Calls `body` with `value` as `String(value)` writes it, in a buffer on
    /// the stack (two digits per division).
    private static func withDigits<I: FixedWidthInteger>(_ value: I, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var n = UInt64(truncatingIfNeeded: value.magnitude)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for a sign and 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            while n >= 100 {
                let pair = Int(truncatingIfNeeded: n % 100)
                n /= 100
                start -= 2
                buffer[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: pair / 10)
                buffer[start + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: pair % 10)
            }
            if n >= 10 {
                start -= 2
                buffer[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n / 10)
                buffer[start + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
            } else {
                start -= 1
                buffer[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n)
            }
            if value < 0 {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            body(UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[start...]))
        }
    }

    /// The value of 1 to 19 ASCII digits; nil for anything else (a sign,
    /// another byte, no digit, or a value beyond `Int64.max`).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        // Up to 18 digits cannot overflow: one test per digit.
        var n: UInt64 = 0
        var bad = false
        for k in 0..<min(bytes.count, 18) {
            let d = bytes[k] &- UInt8(ascii: "0")
            bad = bad || d > 9
            n = n &* 10 &+ UInt64(d)
        }
        guard !bad else { return nil }
        if bytes.count == 19 {
            let d = bytes[18] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1 && !o2 && sum <= UInt64(Int64.max) else { return nil }
            n = sum
        }
        return Int64(n)
    }
}

/// Reads a record's fields one by one, then checks that none was left over:
/// a field nobody asked for is an error, never ignored.
public struct RecordReader {
    private let record: Record
    private let spans: [Record.FieldSpan]
    /// Bit `i` set: field `i` was read. Fields from the 65th on are never
    /// marked; `finish` still names the first unread field, since no
    /// keyword reads 64 keys (a line with more fields has an unread one
    /// among its first 64).
    private var used: UInt64 = 0
    /// Where the next search starts: fields are mostly read in file order.
    private var next = 0

    public init(_ record: consuming Record) {
        spans = record.takeSpans()
        self.record = record
    }

    /// The line number, for errors.
    public var line: Int { record.line }

    /// A `malformedFile` error on this record's line.
    public func error(_ reason: String) -> TwoStepError {
        .malformedFile(line: record.line, reason: "\(record.keyword): \(reason)")
    }

    /// The index of the field `key`, marked as read; nil when the line has none.
    private mutating func field(_ key: FieldKey) -> Int? {
        let count = spans.count
        var i = next
        for _ in 0..<count {
            if i == count { i = 0 }
            if record.key(of: spans[i], is: key) {
                if i < 64 { used |= 1 << UInt64(i) }
                next = i + 1
                return i
            }
            i += 1
        }
        return nil
    }

    /// The value of `key`, or nil when the line has none.
    public mutating func optional(_ key: FieldKey) -> String? {
        guard let i = field(key) else { return nil }
        return record.value(of: spans[i])
    }

    /// The value of `key`; throws when missing.
    public mutating func required(_ key: FieldKey) throws(TwoStepError) -> String {
        guard let v = optional(key) else { throw error("missing field '\(key)'") }
        return v
    }

    /// `transform` of the (decoded) bytes of `key`, made without a `String`
    /// (e.g. `Hex.decode`); throws when the field is missing.
    public mutating func required<R>(_ key: FieldKey, as transform: (UnsafeBufferPointer<UInt8>) -> R) throws(TwoStepError) -> R {
        guard let i = field(key) else { throw error("missing field '\(key)'") }
        return record.withValue(of: spans[i], transform)
    }

    /// A decimal integer field within `range`.
    public mutating func integer(_ key: FieldKey, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64 {
        guard let i = field(key) else { throw error("missing field '\(key)'") }
        return try parseInteger(spans[i], key: key, in: range)
    }

    /// An optional decimal integer field within `range`.
    public mutating func optionalInteger(_ key: FieldKey, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64? {
        guard let i = field(key) else { return nil }
        return try parseInteger(spans[i], key: key, in: range)
    }

    /// A Unix time field: a whole number in `UnixTime.range`.
    public mutating func time(_ key: FieldKey) throws(TwoStepError) -> Int64 {
        try integer(key, in: UnixTime.range)
    }

    /// An optional Unix time field: a whole number in `UnixTime.range`.
    public mutating func optionalTime(_ key: FieldKey) throws(TwoStepError) -> Int64? {
        try optionalInteger(key, in: UnixTime.range)
    }

    private func parseInteger(_ span: Record.FieldSpan, key: FieldKey, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64 {
        guard let n = record.withValue(of: span, DecimalDigits.parse), range.contains(n) else {
            throw error("field '\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// Throws when the record has a field that was never read.
    public func finish() throws(TwoStepError) {
        for (i, span) in spans.enumerated() where i >= 64 || used & (1 << UInt64(i)) == 0 {
            throw error("unknown field '\(record.key(of: span))'")
        }
    }
}
