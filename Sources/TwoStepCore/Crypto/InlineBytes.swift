/// A fixed number of bytes held inline in a value (no heap storage, no
/// reference count): the salts and hashes of one-time codes, which the
/// parser reads on every login.
///
/// Conforming types store their bytes in a tuple of `UInt64` words and
/// expose them through `withUnsafeBytes`; everything else (the collection
/// of `UInt8`, equality, hashing, hex) comes from this protocol's extension.
public protocol InlineBytes: RandomAccessCollection, Hashable, Sendable where Element == UInt8, Index == Int {
    /// The number of bytes, always.
    static var byteCount: Int { get }
    /// All bytes zero.
    init()
    /// Calls `body` with the `byteCount` bytes.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// Calls `body` with the `byteCount` bytes to change.
    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R
}

extension InlineBytes {
    public var startIndex: Int { 0 }
    public var endIndex: Int { Self.byteCount }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < Self.byteCount, "InlineBytes index out of range")
        return withUnsafeBytes { $0[position] }
    }

    /// The bytes of `bytes`; nil unless there are exactly `byteCount` of them.
    public init?<C: Collection<UInt8>>(exactly bytes: C) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init()
        withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
    }

    /// Decodes exactly `2 * byteCount` hex digits (either case); nil for
    /// any other length or a byte that is not a hex digit.
    public init?(hex chars: UnsafeBufferPointer<UInt8>) {
        guard chars.count == 2 * Self.byteCount else { return nil }
        self.init()
        let valid = withUnsafeMutableBytes { Hex.decode(chars, into: $0) }
        guard valid else { return nil }
    }

    /// The bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Constant time (`ConstantTime.equal`): these hold salts and hashes.
    public static func == (a: Self, b: Self) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in ConstantTime.equal(a, b) } }
    }

    /// True when `b` holds the same bytes (not constant time: see `ConstantTime`).
    public static func == (a: Self, b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in a.elementsEqual(b) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Sixteen bytes inline: a salt.
public struct InlineBytes16: InlineBytes {
    public static let byteCount = 16
    private var words: (UInt64, UInt64) = (0, 0)

    public init() {}

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeMutableBytes(of: &words, body)
    }
}

/// Thirty-two bytes inline: a SHA-256 hash.
public struct InlineBytes32: InlineBytes {
    public static let byteCount = 32
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeMutableBytes(of: &words, body)
    }
}
