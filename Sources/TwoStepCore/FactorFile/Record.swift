/// One line of the factor file: a keyword and `key=value` fields.
///
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=JBSW… label=Phone created=1764220800
///
/// Values are percent-encoded (a space is `%20`), so a line splits on single
/// spaces without ambiguity.
public struct Record: Sendable, Equatable {
    /// The first word of the line, naming what the line holds.
    public var keyword: String
    /// The fields in the order they were read or written.
    public var fields: [(key: String, value: String)]
    /// 1-based line number in the file (0 for a record made in memory).
    public var line: Int

    public init(keyword: String, fields: [(key: String, value: String)] = [], line: Int = 0) {
        self.keyword = keyword
        self.fields = fields
        self.line = line
    }

    public static func == (a: Record, b: Record) -> Bool {
        a.keyword == b.keyword && a.fields.elementsEqual(b.fields, by: { $0.key == $1.key && $0.value == $1.value })
    }

    /// Characters left unescaped in values besides RFC 3986's unreserved ones.
    static let valueSafe = ":/+@,"

    /// The line's text (no newline).
    public var text: String {
        ([keyword] + fields.map { $0.key + "=" + PercentEncoding.encode($0.value, alsoAllowed: Self.valueSafe) })
            .joined(separator: " ")
    }

    /// Appends a field.
    public mutating func append(_ key: String, _ value: String) {
        fields.append((key, value))
    }

    /// Appends a field when `value` is not nil.
    public mutating func append(_ key: String, _ value: String?) {
        if let value { fields.append((key, value)) }
    }

    /// Parses one non-empty, non-comment line. Throws `malformedFile` naming `line`.
    ///
    /// Works on the UTF-8 bytes: splitting on ASCII bytes cuts only between
    /// characters, and it is many times cheaper than Swift's Character view
    /// (this parser runs twice on every login).
    public init(parsing text: Substring, line: Int) throws(TwoStepError) {
        let words = text.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard let first = words.first, !first.isEmpty else {
            throw .malformedFile(line: line, reason: "the line starts with a space")
        }
        self.keyword = String(Substring(first))
        self.line = line
        self.fields = []
        for word in words.dropFirst() {
            guard !word.isEmpty else { throw .malformedFile(line: line, reason: "two spaces in a row, or a space at the end") }
            guard let eq = word.firstIndex(of: UInt8(ascii: "=")), eq != word.startIndex else {
                throw .malformedFile(line: line, reason: "'\(Substring(word).prefix(20))' is not key=value")
            }
            let key = String(Substring(word[..<eq]))
            // A handful of fields per line: a linear scan beats hashing.
            guard !fields.contains(where: { $0.key == key }) else {
                throw .malformedFile(line: line, reason: "field '\(key)' appears twice")
            }
            let raw = word[word.index(after: eq)...]
            let value: String
            if raw.contains(UInt8(ascii: "%")) {
                guard let decoded = PercentEncoding.decode(String(Substring(raw))) else {
                    throw .malformedFile(line: line, reason: "field '\(key)' has a bad %-escape")
                }
                value = decoded
            } else {
                value = String(Substring(raw))  // what decode would return: nothing to unescape
            }
            fields.append((key, value))
        }
    }
}

/// Reads a record's fields one by one, then checks that none was left over:
/// a field nobody asked for is an error, never ignored.
public struct RecordReader {
    private let record: Record
    private var used = Set<String>()

    public init(_ record: Record) { self.record = record }

    /// The line number, for errors.
    public var line: Int { record.line }

    /// A `malformedFile` error on this record's line.
    public func error(_ reason: String) -> TwoStepError {
        .malformedFile(line: record.line, reason: "\(record.keyword): \(reason)")
    }

    /// The value of `key`, or nil when the line has none.
    public mutating func optional(_ key: String) -> String? {
        used.insert(key)
        return record.fields.first(where: { $0.key == key })?.value
    }

    /// The value of `key`; throws when missing.
    public mutating func required(_ key: String) throws(TwoStepError) -> String {
        guard let v = optional(key) else { throw error("missing field '\(key)'") }
        return v
    }

    /// A decimal integer field within `range`.
    public mutating func integer(_ key: String, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64 {
        let text = try required(key)
        return try parseInteger(text, key: key, in: range)
    }

    /// An optional decimal integer field within `range`.
    public mutating func optionalInteger(_ key: String, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64? {
        guard let text = optional(key) else { return nil }
        return try parseInteger(text, key: key, in: range)
    }

    private func parseInteger(_ text: String, key: String, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              text.utf8.count <= 19, let n = Int64(text), range.contains(n) else {
            throw error("field '\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// Throws when the record has a field that was never read.
    public func finish() throws(TwoStepError) {
        if let extra = record.fields.first(where: { !used.contains($0.key) }) {
            throw error("unknown field '\(extra.key)'")
        }
    }
}
