/// A short name (a line keyword or a field key) packed into two words: its
/// first 16 bytes, first byte lowest, zero-padded, and its length. Two names
/// of at most 16 bytes are equal exactly when their packed forms are, so
/// the parser matches keys with integer compares instead of `memcmp` on
/// `String`s; longer names compare equal on their first 16 bytes and length
/// only, and need a byte compare (`isExact` is false).
struct PackedName: Equatable, Sendable {
    /// Bytes 0 to 7.
    var low: UInt64 = 0
    /// Bytes 8 to 15.
    var high: UInt64 = 0
    /// The length of the whole name.
    var count: Int

    /// The name `bytes`.
    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        count = bytes.count
        var k = 0
        for b in bytes {
            if k < 8 {
                low |= UInt64(b) << UInt64(8 * k)
            } else if k < 16 {
                high |= UInt64(b) << UInt64(8 * (k - 8))
            } else {
                break
            }
            k += 1
        }
    }

    /// The name `buffer[range]`. When `buffer` has 16 bytes from the start
    /// of the name, the two words are loaded whole and masked (no byte of
    /// the name's neighbours is kept); otherwise byte by byte.
    @inline(__always)
    init(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "PackedName range out of bounds")
        guard let base = buffer.baseAddress, range.lowerBound + 16 <= buffer.count else {
            self = Self.packBytewise(UnsafeBufferPointer(rebasing: buffer[range]))
            return
        }
        let n = UInt64(truncatingIfNeeded: min(range.count, 16))
        let raw = UnsafeRawPointer(base + range.lowerBound)
        let w0 = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        let w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        // Keep the name's bytes only: masks of n (low word) and n - 8 (high word) bytes.
        let lowMask: UInt64 = n >= 8 ? ~0 : (1 << (8 &* n)) &- 1
        let highMask: UInt64 = n >= 16 ? ~0 : n <= 8 ? 0 : (1 << (8 &* (n &- 8))) &- 1
        self.init(low: w0 & lowMask, high: w1 & highMask, count: range.count)
    }

    /// The name `bytes`, one byte at a time (near the end of a buffer).
    @inline(never)
    private static func packBytewise(_ bytes: UnsafeBufferPointer<UInt8>) -> PackedName {
        PackedName(bytes)
    }

    private init(low: UInt64, high: UInt64, count: Int) {
        self.low = low
        self.high = high
        self.count = count
    }

    /// The name `name` (its UTF-8 bytes).
    init(_ name: String) {
        if let packed = name.utf8.withContiguousStorageIfAvailable({ PackedName($0) }) {
            self = packed
        } else {
            self = Array(name.utf8).withUnsafeBufferPointer { PackedName($0) }
        }
    }

    /// True when equal packed forms mean equal names (16 bytes or fewer).
    var isExact: Bool { count <= 16 }
}

/// The key of a field to read (`FactorLineReader`): a string literal in the
/// code, packed when the literal is made (from its static bytes, no
/// `String` built), so finding the field is a few integer compares. A
/// plain value: copying one costs no reference counting.
public struct FieldKey: ExpressibleByStringLiteral, CustomStringConvertible, Sendable {
    let packed: PackedName
    private let literal: StaticString

    /// A key written as a literal, e.g. `reader.required("id")`.
    public init(stringLiteral value: StaticString) {
        packed = value.withUTF8Buffer { PackedName($0) }
        literal = value
    }

    /// The key's text.
    public var description: String { "\(literal)" }

    /// True when `bytes` are this key's bytes.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard PackedName(bytes) == packed else { return false }
        return packed.isExact || literal.withUTF8Buffer { bytes.elementsEqual($0) }
    }
}
