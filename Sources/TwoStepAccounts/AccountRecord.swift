import TwoStepCore
import TwoStepStore

/// One user's factor file, reached with the file-system identity it needs.
///
/// A file in a directory the user owns (the home directory) is read and
/// written as that user (`FileSystemIdentity`), so a symlink or a hard
/// link planted there cannot make root touch anything the user could not.
/// A store in a root-owned directory (an administrator-managed store such
/// as `/var/lib/twostep/%u`) is handled as root, and its files are root's.
///
/// In fleet mode (SPEC §9) twostepd keeps the record in its database
/// (`init(account:store:)`): a store only root reaches, like an
/// administrator-managed directory.
public struct AccountRecord: Sendable {
    public let account: UserAccount
    public let store: any RecordStore
    /// A root-owned store users cannot read: a root-owned directory, or the database.
    public let isAdministratorManaged: Bool
    private let actsAsUser: Bool

    public init(account: UserAccount, path: String) {
        self.account = account
        let file = FactorStore(path: path, user: account.uid)
        store = file
        isAdministratorManaged = file.isAdministratorManaged
        actsAsUser = !isAdministratorManaged
    }

    /// A record in a store only root reaches (twostepd's database).
    public init(account: UserAccount, store: any RecordStore) {
        self.account = account
        self.store = store
        isAdministratorManaged = true
        actsAsUser = false
    }

    /// Where the record is: a path, or `postgresql: alice`.
    public var path: String { store.location }

    /// Runs `body` on the store with the file-system identity the file needs;
    /// every error comes back as an `AccountError`.
    public func access<T>(_ body: (any RecordStore) throws -> T) throws(AccountError) -> T {
        do {
            guard actsAsUser else { return try body(store) }
            return try FileSystemIdentity.run(uid: account.uid, gid: account.gid) { try body(store) }
        } catch {
            throw AccountError(any: error)
        }
    }
}

extension AccountRecord {
    /// The record `template` gives for `account`. A store in the home
    /// directory (`%h…`) whose directory is root's, for a user who is not
    /// root, is refused: that is the mount point of a home that is not
    /// mounted (or not the user's home), and nothing may be read or written
    /// there as root (the PAM module refuses it the same way).
    public static func locate(_ account: UserAccount, template: StorePathTemplate) throws(AccountError) -> AccountRecord {
        let path: String
        do { path = try template.path(user: account.name, home: account.home) } catch { throw AccountError(error) }
        let record = AccountRecord(account: account, path: path)
        if template.template.hasPrefix("%h"), account.uid != 0, record.isAdministratorManaged {
            throw .failure("\(path) is in a directory owned by root, not by \(account.name) (home not mounted?); refusing to use it")
        }
        return record
    }

    /// True when the record is in an administrator-managed store: a
    /// root-owned directory that is not a home directory.
    public func isManaged(by template: StorePathTemplate) -> Bool {
        !template.template.hasPrefix("%h") && isAdministratorManaged
    }
}
