import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// What an open file must be before it is read: the checks every reader
/// of a file that decides something (a secret, a policy, a count) makes on
/// its `fstat`, always in this order — type, owner, mode, links, size — so
/// that the same file fails the same way whoever reads it.
public struct FileRules: Sendable {
    /// The owner the file must have; nil: any.
    public var owner: uid_t?
    /// Mode bits that must all be clear: `S_IWGRP | S_IWOTH` (0o022) for a
    /// file others may read, 0o077 for a secret.
    public var forbiddenMode: mode_t
    /// Larger files are refused unread.
    public var maxSize: Int
    /// Smaller files are refused (1: an empty file is refused).
    public var minSize: Int
    /// When true, a file with another hard link is refused (it could be
    /// changed through a name elsewhere).
    public var singleLink: Bool

    /// Rules for a regular file; by default any owner, any mode, one link or more.
    public init(owner: uid_t? = nil, forbiddenMode: mode_t = 0, maxSize: Int, minSize: Int = 0, singleLink: Bool = false) {
        self.owner = owner
        self.forbiddenMode = forbiddenMode
        self.maxSize = maxSize
        self.minSize = minSize
        self.singleLink = singleLink
    }

    /// The first rule `st` breaks.
    public enum Violation: Error, Equatable, Sendable {
        /// Not a regular file (a directory, FIFO, device, socket).
        case notRegular
        /// Owned by this uid instead of the required owner.
        case owner(uid_t)
        /// These permission bits (`st_mode & 0o7777`) include a forbidden one.
        case mode(mode_t)
        /// This many hard links, where one is required.
        case links(Int)
        /// This many bytes: more than `maxSize`.
        case tooLarge(Int)
        /// This many bytes: fewer than `minSize`.
        case tooSmall(Int)

        /// The usual wording, after "refusing PATH:".
        public var reason: String {
            switch self {
            case .notRegular: "it is not a regular file"
            case .owner(let uid): "it is owned by uid \(uid)"
            case .mode(let mode): "group or others may access it (mode \(String(mode, radix: 8)))"
            case .links(let n): "it has \(n) hard links"
            case .tooLarge: "it is too large"
            case .tooSmall: "it is too small"
            }
        }
    }

    /// Nil when `st` satisfies every rule, otherwise the first it breaks.
    public func violation(_ st: stat) -> Violation? {
        if st.st_mode & S_IFMT != S_IFREG { return .notRegular }
        if let owner, st.st_uid != owner { return .owner(st.st_uid) }
        if st.st_mode & forbiddenMode != 0 { return .mode(st.st_mode & 0o7777) }
        if singleLink && st.st_nlink != 1 { return .links(Int(st.st_nlink)) }
        if st.st_size > maxSize { return .tooLarge(Int(st.st_size)) }
        if st.st_size < minSize { return .tooSmall(Int(st.st_size)) }
        return nil
    }
}
