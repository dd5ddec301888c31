/// Reads a factor line's fields one by one, then checks that none was left over:
/// a field nobody asked for is an error, never ignored.
public struct FactorLineReader {
    private let source: FactorLine
    private let spans: [FactorLine.FieldSpan]
    /// Bit `i` set: field `i` was read. Fields from the 65th on are never
    /// marked; `finish` still names the first unread field, since no
    /// keyword reads 64 keys (a line with more fields has an unread one
    /// among its first 64).
    private var used: UInt64 = 0
    /// Where the next search starts: fields are mostly read in file order.
    private var next = 0

    public init(_ source: consuming FactorLine) {
        spans = source.takeSpans()
        self.source = source
    }

    /// The line number, for errors.
    public var line: Int { source.line }

    /// A `malformedFile` error naming this line.
    public func error(_ reason: String) -> TwoStepError {
        .malformedFile(line: source.line, reason: "\(source.keyword): \(reason)")
    }

    /// The index of the field `key`, marked as read; nil when the line has none.
    private mutating func field(_ key: FieldKey) -> Int? {
        let count = spans.count
        var i = next
        for _ in 0..<count {
            if i == count { i = 0 }
            if source.key(of: spans[i], is: key) {
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
        return source.value(of: spans[i])
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
        return source.withValue(of: spans[i], transform)
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

    private func parseInteger(_ span: FactorLine.FieldSpan, key: FieldKey, in range: ClosedRange<Int64>) throws(TwoStepError) -> Int64 {
        guard let n = source.withValue(of: span, DecimalDigits.parse), range.contains(n) else {
            throw error("field '\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// Throws when the line has a field that was never read.
    public func finish() throws(TwoStepError) {
        for (i, span) in spans.enumerated() where i >= 64 || used & (1 << UInt64(i)) == 0 {
            throw error("unknown field '\(source.key(of: span))'")
        }
    }
}
