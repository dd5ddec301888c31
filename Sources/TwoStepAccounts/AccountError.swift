import TwoStepCore
import TwoStepStore

/// Why an operation on a user's record did not happen, in the three kinds
/// the CLI's exit codes tell apart (SPEC §4). The same values cross the
/// daemon's socket (`io.twostep.Manage.UsageError`, `CodeRefused`,
/// `StoreProblem`), so a command fails the same way on both paths.
public enum AccountError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The request cannot be used as it is (a bad value, a missing answer,
    /// an id that does not exist): exit 2.
    case usage(String)
    /// A code was refused, a lock-out runs, or two-step verification is off: exit 1.
    case refused(String)
    /// The record, the store or the system failed (unsafe, corrupt, cannot
    /// write, daemon unreachable): exit 3.
    case failure(String)

    public var description: String {
        switch self {
        case .usage(let m), .refused(let m), .failure(let m): m
        }
    }

    /// A store error as the user should read it, with what to do next.
    public init(_ error: StoreError) {
        switch error {
        case .notEnrolled: self = .failure("\(error); run 'twostep enroll' to turn it on")
        case .alreadyExists: self = .failure("\(error); use 'twostep enroll --force' to replace it")
        default: self = .failure("\(error)")
        }
    }

    /// A malformed value (secret, parameters, phone number): a usage error,
    /// except that no randomness is a system failure.
    public init(_ error: TwoStepError) {
        if case .randomUnavailable = error { self = .failure("\(error)") } else { self = .usage("\(error)") }
    }

    /// A record that cannot be located: a template that gives no path for
    /// this user is a usage error; a home store in root's directory a failure.
    public init(_ error: RecordLocation.Failure) {
        switch error {
        case .noPath(let e): self.init(e)
        case .homeNotTheUsers: self = .failure("\(error)")
        }
    }

    /// Any error thrown while working on a record, as one of the three kinds.
    public init(any error: any Error) {
        switch error {
        case let e as AccountError: self = e
        case let e as StoreError: self.init(e)
        case let e as TwoStepError: self.init(e)
        case let e as RecordLocation.Failure: self.init(e)
        default: self = .failure("\(error)")
        }
    }
}
