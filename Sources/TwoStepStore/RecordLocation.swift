import TwoStepCore

/// Where one user's record is: the one answer to "which store holds it, and
/// how is it reached", used by the PAM module, the CLI, twostepd and
/// `report` alike (SPEC §2, §8, §9).
///
/// - `store=twostepd` (fleet mode): twostepd keeps it, for every caller.
/// - Otherwise the factor file the store template names, with the identity
///   it is reached with (`AccountFile`). A home-directory store (`%h…`) whose
///   directory root owns, for a user who is not root, is refused: that is
///   the mount point of a home that is not mounted (or not the user's home),
///   and nothing may be read or written there as root, nor may a missing
///   file there count as "not enrolled".
public enum RecordLocation: Sendable {
    /// twostepd's record of this user (its database): `store=twostepd`.
    case twostepd(user: String)
    /// A factor file.
    case file(AccountFile)

    /// Why a record cannot be located.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The template gives no usable path for this user (a name or home
        /// that would escape the directory).
        case noPath(TwoStepError)
        /// A home-directory store in a directory owned by root, not by the user.
        case homeNotTheUsers(path: String, user: String)

        public var description: String {
            switch self {
            case .noPath(let error): "\(error)"
            case .homeNotTheUsers(let path, let user):
                "\(path) is in a directory owned by root, not by \(user) (home not mounted?); refusing to use it"
            }
        }
    }

    /// The record of `account` in the store `template` names. `lockWait`:
    /// how long the file's lock is waited for (the module's own login waits
    /// as long as it takes; everything else gives up after 5 s).
    public init(of account: UserAccount, in template: StorePathTemplate,
                lockWait: FactorStore.LockWait = .standard) throws(Failure) {
        if template.isDaemon {
            self = .twostepd(user: account.name)
            return
        }
        let path: String
        do { path = try template.path(user: account.name, home: account.home) } catch { throw .noPath(error) }
        let file = AccountFile(account: account, file: FactorStore(path: path, user: account.uid, lockWait: lockWait),
                               template: template)
        if template.isInHome, account.uid != 0, !file.actsAsUser {
            throw .homeNotTheUsers(path: path, user: account.name)
        }
        self = .file(file)
    }

    /// True when a caller reaches the record through twostepd rather than
    /// the file: every caller in fleet mode; an ordinary user (not root)
    /// whose record is in an administrator-managed store (SPEC §8).
    public func isReachedThroughTwostepd(byRoot: Bool) -> Bool {
        switch self {
        case .twostepd: true
        case .file(let file): !byRoot && file.isAdministratorManaged
        }
    }

    /// Where the record is, for messages: its path, or `twostepd: alice`.
    public var description: String {
        switch self {
        case .twostepd(let user): "twostepd: \(user)"
        case .file(let file): file.path
        }
    }
}
