/// Up to 96 bytes built in a value on the stack, then appended to an array
/// in one go: the factor-file writer builds a whole ` key=value` field this
/// way instead of growing the line's array piece by piece. Every write is
/// checked against the capacity (a write past it stops the program).
struct StackBytes {
    static let capacity = 96
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// The bytes written so far.
    private(set) var count = 0

    /// True when `n` more bytes fit.
    func fits(_ n: Int) -> Bool { n >= 0 && n <= Self.capacity - count }

    /// Writes one byte.
    @inline(__always)
    mutating func put(_ byte: UInt8) {
        precondition(count < Self.capacity, "StackBytes: write past the end")
        let at = count
        withUnsafeMutableBytes(of: &words) { $0[at] = byte }
        count += 1
    }

    /// Writes `bytes`.
    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(fits(bytes.count), "StackBytes: write past the end")
        let at = count
        withUnsafeMutableBytes(of: &words) { raw in
            UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + bytes.count)]).copyMemory(from: UnsafeRawBufferPointer(bytes))
        }
        count += bytes.count
    }

    /// Writes the UTF-8 bytes of `text`.
    mutating func put(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ put($0) }) == nil {
            for b in text.utf8 { put(b) }
        }
    }

    /// Appends what was written to `out`.
    func append(to out: inout [UInt8]) {
        let n = count
        withUnsafeBytes(of: words) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
    }
}
