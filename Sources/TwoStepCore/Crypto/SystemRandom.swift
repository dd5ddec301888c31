#if canImport(Glibc)
import Glibc
#endif
import CCrypto

/// Cryptographically secure random bytes from the kernel (`getrandom(2)`).
public enum SystemRandom {
    /// Returns `count` random bytes. Throws when the kernel refuses, which
    /// callers treat as a hard failure (never fall back to a weaker source).
    public static func bytes(_ count: Int) throws(TwoStepError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = out.withUnsafeMutableBytes { buf in
                getrandom(buf.baseAddress! + filled, count - filled, 0)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .randomUnavailable(errno: errno)
            }
            filled += n
        }
        return out
    }

    /// A uniformly random integer in `0..<bound` (rejection sampling, no modulo bias).
    public static func uniform(below bound: UInt32) throws(TwoStepError) -> UInt32 {
        precondition(bound > 0)
        let limit = UInt32.max - (UInt32.max % bound)
        while true {
            let b = try bytes(4)
            let v = b.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            if v < limit { return v % bound }
        }
    }
}
