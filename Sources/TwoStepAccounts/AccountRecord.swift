import TwoStepCore
import TwoStepStore

/// One user's factor file, reached with the file-system identity it needs.
///
/// A file in a directory the user owns (the home directory) is read and
/// written as that user (`FileSystemIdentity`), so a symlink or a hard
/// link planted there cannot make root touch anything the user could not.
/// A store in a root-owned directory (an administrator-managed store such
/// as `/var/lib/twostep/%u`) is handled as root, and its files are root's.
public struct AccountRecord: Sendable {
    public let account: UserAccount
    public let store: FactorStore
    private let actsAsUser: Bool

    public init(account: UserAccount, path: String) {
        self.account = account
        store = FactorStore(path: path, user: account.uid)
        actsAsUser = !store.isAdministratorManaged
    }

    public var path: String { store.path }

    /// Runs `body` on the store with the file-system identity the file needs;
    /// every error comes back as an `AccountError`.
    public func access<T>(_ body: (FactorStore) throws -> T) throws(AccountError) -> T {
        do {
            guard actsAsUser else { return try body(store) }
            return try FileSystemIdentity.run(uid: account.uid, gid: account.gid) { try body(store) }
        } catch {
            throw AccountError(any: error)
        }
    }
}
