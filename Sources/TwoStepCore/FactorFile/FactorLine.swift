/// One line of the factor file: a keyword and `key=value` fields.
///
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=JBSW… label=Phone created=1764220800
///
/// Values are percent-encoded (a space is `%20`), so a line splits on single
/// spaces without ambiguity.
///
/// A line is bytes, not strings (this parser runs on every login): a
/// parsed line is a range of the file's UTF-8 bytes, shared and not
/// copied, with the places of its fields; a value is made into a `String`
/// or decoded only when it is read. A line built in memory holds its own
/// line, written as fields are appended.
public struct FactorLine: Sendable, Equatable {
    /// Where one field lies in the line's bytes: the key is
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

    /// The bytes the line lies in: the whole file for a parsed line, the
    /// line alone (or the file written so far) for a built one.
    private(set) var storage: [UInt8]
    /// The line (no newline) within `storage`.
    private var bounds: Range<Int>
    /// Where the keyword ends within `storage`.
    private var keywordEnd: Int
    /// The keyword packed for integer compares.
    private(set) var keywordName: PackedName
    /// The fields the parser found; nil for a built line (found on demand).
    private var parsedSpans: [FieldSpan]?
    /// 1-based line number in the file (0 for a line made in memory).
    public var line: Int

    /// A line with `keyword` and `fields`, written as `append` writes them.
    public init(keyword: String, fields: [(key: String, value: String)] = [], line: Int = 0) {
        var storage = [UInt8]()
        storage.reserveCapacity(64)
        self.init(keyword: keyword, taking: &storage, line: line)
        for field in fields { append(field.key, field.value) }
    }

    /// A line that writes its line at the end of `buffer`, which it takes
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

    /// Gives the bytes back (leaving the line empty), so that the caller
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

    public static func == (a: FactorLine, b: FactorLine) -> Bool {
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
        precondition(0 <= bounds.lowerBound && bounds.upperBound <= s.count, "FactorLine.tokenize: line out of bounds")
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

    /// The field places, moved out of a parsed line (no copy, no
    /// reference count): the line keeps none afterwards and finds them
    /// again if asked.
    mutating func takeSpans() -> [FieldSpan] {
        guard let taken = parsedSpans else { return spans }
        parsedSpans = nil
        return taken
    }

    /// The field places: the parser's, or found now for a built line
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
