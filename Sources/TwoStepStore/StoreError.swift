import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// Why the factor file could not be used. Every case names the path; none
/// carries file content.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The directory exists and the file does not (ENOENT): the user is not enrolled.
    case notEnrolled(path: String)
    /// The directory that should hold the file is missing (an unmounted home?).
    case directoryMissing(path: String)
    /// The file or its directory fails a safety check; `reason` says which.
    case unsafe(path: String, reason: String)
    /// The file parsed badly.
    case corrupt(path: String, error: TwoStepError)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)
    /// `create` found a file already there.
    case alreadyExists(path: String)
    /// A versioned store (twostepd, its database) could not be reached in
    /// time, or refused the request; `reason` says which. Logins are denied.
    case unavailable(path: String, reason: String)
    /// Other writers changed the record every time this one tried.
    case contended(path: String)
    /// Another process held the file's lock for `seconds` (`FactorStore.LockWait`):
    /// nothing was read or written. A user can hold their own file's lock
    /// as long as they like; callers other than the module's login give up.
    case busy(path: String, seconds: Int)

    public var description: String {
        switch self {
        case .notEnrolled(let p): "\(p) does not exist (two-step verification is not set up)"
        case .directoryMissing(let p): "the directory of \(p) does not exist"
        case .unsafe(let p, let r): "refusing \(p): \(r)"
        case .corrupt(let p, let e): "\(p) is corrupt: \(e)"
        case .io(let p, let op, let e): "\(op) \(p): \(String(cString: strerror(e)))"
        case .alreadyExists(let p): "\(p) already exists"
        case .unavailable(let p, let r): "\(p) is unavailable: \(r)"
        case .contended(let p): "\(p) kept changing under this update; nothing was stored"
        case .busy(let p, let s): "\(p) is busy: another process has held its lock for \(s) s; nothing was read or changed, try again later"
        }
    }
}
