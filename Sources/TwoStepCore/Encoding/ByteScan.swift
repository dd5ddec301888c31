#if canImport(Glibc)
import Glibc
#endif

/// Byte searches for the factor-file parser, several bytes per step
/// (`memchr`, eight bytes per word) rather than one `Character` at a time.
public enum ByteScan {
    /// The index of the first `byte` in `buffer[from...]`, or `buffer.count` when there is none.
    public static func firstIndex(of byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        firstIndex(of: byte, in: buffer, from: start, to: buffer.count)
    }

    /// The index of the first `byte` in `buffer[from..<to]`, or `to` when there is none.
    public static func firstIndex(of byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        precondition(0 <= start && start <= end && end <= buffer.count, "ByteScan range out of bounds")
        guard start < end, let base = buffer.baseAddress,
              let found = memchr(base + start, Int32(byte), end - start) else { return end }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// The index of the first byte in `buffer[from..<to]` that is `a` or
    /// `b`, or `to` when there is none. Eight bytes per step (never loading
    /// past `to`), then byte by byte: quicker than `memchr` on the short
    /// values of a factor-file line.
    public static func firstIndex(of a: UInt8, or b: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        precondition(0 <= start && start <= end && end <= buffer.count, "ByteScan range out of bounds")
        guard let base = buffer.baseAddress else { return end }
        let raw = UnsafeRawPointer(base)
        let aa = ones &* UInt64(a), bb = ones &* UInt64(b)
        var i = start
        while i + 8 <= end {
            let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let xa = w ^ aa, xb = w ^ bb
            // The lowest high bit set marks the first zero byte exactly (a
            // borrow can only set bits above a true zero byte).
            let zero = ((xa &- ones) & ~xa | (xb &- ones) & ~xb) & highs
            if zero != 0 { return i + zero.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < end {
            let c = buffer[i]
            if c == a || c == b { return i }
            i += 1
        }
        return end
    }

    /// Appends the UTF-8 bytes of `text` to `out`, growing it once.
    public static func append(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil {
            out.append(contentsOf: text.utf8)
        }
    }

    /// True when `bytes` are the UTF-8 bytes of `text`.
    public static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ text: String) -> Bool {
        guard bytes.count == text.utf8.count else { return false }
        if let same = text.utf8.withContiguousStorageIfAvailable({ text in
            guard let a = bytes.baseAddress, let b = text.baseAddress else { return true }  // both empty
            return memcmp(a, b, bytes.count) == 0
        }) {
            return same
        }
        return bytes.elementsEqual(text.utf8)
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// True when every byte is ASCII (below 0x80), eight bytes per step.
    public static func isASCII(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = buffer.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var high: UInt64 = 0
        var i = 0
        while i + 8 <= buffer.count {
            high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < buffer.count {
            high |= UInt64(buffer[i])
            i += 1
        }
        return high & highs == 0
    }

    /// The index of the first byte where `a` and `b` (of equal length)
    /// differ, or their length when they do not; eight bytes per step.
    public static func firstDifference(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        precondition(a.count == b.count, "ByteScan.firstDifference: lengths differ")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
        var i = 0
        while i + 8 <= a.count {
            let x = ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if x != 0 { return i + UInt64(littleEndian: x).trailingZeroBitCount / 8 }
            i += 8
        }
        while i < a.count && a[i] == b[i] { i += 1 }
        return i
    }

    /// The index of the last byte where `a` and `b` (of equal length)
    /// differ, or -1 when they do not; eight bytes per step.
    public static func lastDifference(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        precondition(a.count == b.count, "ByteScan.lastDifference: lengths differ")
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return -1 }
        let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
        var end = a.count  // bytes from `end` on are equal
        while end >= 8 {
            let x = ra.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)
            if x != 0 { return end - 1 - UInt64(littleEndian: x).leadingZeroBitCount / 8 }
            end -= 8
        }
        var i = end - 1
        while i >= 0 && a[i] == b[i] { i -= 1 }
        return i
    }

    /// True when every byte is printable ASCII (0x20 to 0x7E).
    public static func isPrintableASCII(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = buffer.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var i = 0
        // Eight bytes at a time: a byte below 0x20 or above 0x7E sets its high bit in `bad`.
        while i + 8 <= buffer.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let below = (w &- ones &* 0x20) & ~w             // some byte < 0x20 (exact for any: 0x20 <= 0x80)
            let above = (w &+ ones &* (0x7f - 0x7e)) | w      // some byte > 0x7E
            if (below | above) & highs != 0 { return false }
            i += 8
        }
        while i < buffer.count {
            let b = buffer[i]
            if b < 0x20 || b > 0x7e { return false }
            i += 1
        }
        return true
    }
}
