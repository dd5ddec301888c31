#if canImport(Glibc)
import Glibc
#endif

/// The time, and times shown to people.
public enum Clock {
    /// Now, Unix seconds.
    public static var now: Int64 { Int64(time(nil)) }

    /// `2025-11-27 14:05:31 CET`: a Unix time in the local time zone.
    public static func local(_ t: Int64) -> String {
        var seconds = time_t(t)
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return "@\(t)" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "@\(t)"
    }
}
