#if canImport(Glibc)
import Glibc
#endif
import CCrypto

/// Secret key material (a TOTP key, a code being checked) held in memory
/// that twostep owns.
///
/// Security: the bytes live in a buffer allocated for this object alone and
/// are overwritten with zeros (`cleanse`: glibc's `explicit_bzero`, which the
/// optimiser may not remove) when the last reference goes away. Swift arrays that briefly held
/// the same bytes on the way in (a decoded Base32 string, say) are the
/// caller's to cleanse. Equality is checked in constant time.
public final class SecretBytes: @unchecked Sendable, Equatable {
    private let storage: UnsafeMutableRawBufferPointer

    /// A zeroed buffer of `count` bytes that `fill` writes.
    private init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        storage = .allocate(byteCount: Swift.max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
        fill(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Copies `bytes` into a new secret buffer (the common case, without
    /// the generic path's runtime type lookups).
    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
    }

    /// Copies `bytes` into a new secret buffer.
    public convenience init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        self.init(count: bytes.count) { $0.copyBytes(from: bytes) }
    }

    /// The number of secret bytes.
    public let count: Int

    deinit {
        cleanse(storage)
        storage.deallocate()
    }

    /// Calls `body` with the secret bytes. The pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Constant-time equality (the time depends on the length only).
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in ConstantTime.equal(a, b) }
        }
    }
}

/// Comparisons whose running time does not depend on where inputs differ.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes. Runs in time that depends
    /// only on the lengths (Nettle's `memeql_sec`).
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return nettle_memeql_sec(a.baseAddress, b.baseAddress, a.count) != 0
    }

    /// True when the two byte sequences are equal; constant time for equal lengths.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equal(pa, pb) } }
    }

    /// True when the two strings have the same UTF-8 bytes; constant time for equal lengths.
    public static func equal(_ a: String, _ b: String) -> Bool {
        equal(Array(a.utf8), Array(b.utf8))
    }
}

/// Overwrites an array's bytes with zeros in a way the optimiser keeps.
public func cleanse(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { cleanse($0) }
}

/// Overwrites a buffer with zeros in a way the optimiser keeps (glibc's
/// `explicit_bzero`).
public func cleanse(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let start = buffer.baseAddress else { return }
    explicit_bzero(start, buffer.count)
}
