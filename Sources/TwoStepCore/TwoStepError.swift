/// Everything that can go wrong in twostep's core, with what went wrong
/// spelled out. (The file on disk has `StoreError` in TwoStepStore.)
public enum TwoStepError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A Base32 string holds a character outside RFC 4648's alphabet.
    case base32InvalidCharacter(Character, position: Int)
    /// A Base32 string's length cannot be the encoding of whole bytes.
    case base32InvalidLength(Int)
    /// A secret is too short to be safe (fewer than 80 bits) or empty.
    case secretTooShort(bytes: Int)
    /// An otpauth:// URI could not be read; the text says why.
    case invalidKeyURI(String)
    /// An OTP parameter is out of range (digits 6–8, period 1–300 s …).
    case invalidParameter(String)
    /// The factor file is malformed at `line`.
    case malformedFile(line: Int, reason: String)
    /// The kernel would not give random bytes.
    case randomUnavailable(errno: Int32)

    public var description: String {
        switch self {
        case .base32InvalidCharacter(let c, let p):
            "invalid Base32 character '\(c)' at position \(p + 1) (allowed: A–Z and 2–7)"
        case .base32InvalidLength(let n):
            "invalid Base32 length: \(n) characters cannot encode whole bytes"
        case .secretTooShort(let n):
            "the secret is \(n) bytes; at least 10 bytes (16 Base32 characters) are needed"
        case .invalidKeyURI(let why):
            "invalid otpauth URI: \(why)"
        case .invalidParameter(let why):
            why
        case .malformedFile(let line, let reason):
            "line \(line): \(reason)"
        case .randomUnavailable(let e):
            "the kernel's random number generator failed (errno \(e))"
        }
    }
}
