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
