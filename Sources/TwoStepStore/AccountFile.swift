import TwoStepCore

/// One user's factor file, reached with the file-system identity it needs:
/// the only place that decides it.
///
/// A file in a directory the user owns (the home directory) is read and
/// written as that user (`FileSystemIdentity`), so a symlink or a hard link
/// planted there cannot make root touch anything the user could not. A file
/// in a root-owned directory (an administrator-managed store such as
/// `/var/lib/twostep/%u`, or root's own home) is handled as root.
///
/// Every `RecordStore` method runs with that identity, so the module, the
/// CLI and twostepd use the file the same way. A login's update after its
/// read goes through the descriptors that read kept open
/// (`FactorStore.updateInPlace`), opened with the right identity already.
public struct AccountFile: Sendable {
    /// Whose file it is.
    public let account: UserAccount
    /// The file itself.
    public let file: FactorStore
    /// True when the file is touched with the user's identity: its
    /// directory is not root's. Decided once (one `stat` of the directory),
    /// before the file is touched.
    public let actsAsUser: Bool
    /// True for an administrator-managed store (SPEC §8): a root-owned
    /// directory that the store template does not put in the home
    /// directory. Users reach such a record through twostepd only.
    public let isAdministratorManaged: Bool

    init(account: UserAccount, file: FactorStore, template: StorePathTemplate) {
        self.account = account
        self.file = file
        let rootOwned = file.isAdministratorManaged
        actsAsUser = !rootOwned
        isAdministratorManaged = rootOwned && !template.isInHome
    }

    /// The file's path.
    public var path: String { file.path }

    /// Runs `body` with the identity the file needs: the user's (setfsuid,
    /// setfsgid, the primary group only: the file is the user's own, mode
    /// 0600, so no other group can matter), or root's.
    public func run<T>(_ body: () throws -> T) throws -> T {
        actsAsUser ? try FileSystemIdentity.run(uid: account.uid, gid: account.gid, body) : try body()
    }
}

extension AccountFile: RecordStore {
    public var location: String { file.path }

    /// The read, keeping the file open for a later `updateInPlace`.
    public func readSnapshot() throws -> FactorStore.Snapshot { try run { try file.readSnapshot(keepOpen: true) } }
    public func exists() throws -> Bool { try run { try file.exists() } }
    public func create(_ new: FactorFile) throws { try run { try file.create(new) } }
    public func remove() throws { try run { try file.remove() } }

    public func update<T>(from snapshot: FactorStore.Snapshot?, durability: (T) -> FactorStore.Durability,
                          _ body: (inout FactorFile) throws -> T) throws -> T {
        if let snapshot, let done = try file.updateInPlace(from: snapshot, durability: durability, body) { return done }
        return try run { try file.update(from: snapshot, durability: durability, body) }
    }

    public func commit<T>(_ body: (Result<FactorFile, StoreError>) throws -> (T, StoreEnding)) throws -> T {
        try run { try file.commit(body) }
    }
}
