import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The user a command acts on and their factor file, reached with the
/// right file-system identity.
///
/// Root acting on a user's file in a directory that user owns (the home
/// directory) reads and writes it as that user (`FileSystemIdentity`), so
/// a symlink or a hard link planted there cannot make root touch anything
/// the user could not. A store in a root-owned directory (an
/// administrator-managed store such as `/var/lib/twostep/%u`) is handled
/// as root, and its files are root's.
struct Target {
    let account: Account
    let store: FactorStore
    /// Root acting with `--user`: changes need no code.
    let isAdministrator: Bool
    private let actsAsUser: Bool

    init(account: Account, path: String, isAdministrator: Bool) {
        self.account = account
        self.store = FactorStore(path: path, user: account.uid)
        self.isAdministrator = isAdministrator
        actsAsUser = !store.isAdministratorManaged
    }

    var path: String { store.path }

    /// Runs `body` on the store with the file-system identity the file needs.
    func access<T>(_ body: (FactorStore) throws -> T) throws -> T {
        guard actsAsUser else { return try body(store) }
        return try FileSystemIdentity.run(uid: account.uid, gid: account.gid) { try body(store) }
    }

    /// Reads the file.
    func read() throws -> FactorFile {
        try access { try $0.read() }
    }

    /// Reads the file and insists that two-step verification is on.
    func readEnabled() throws -> FactorFile {
        let file = try read()
        guard file.isEnabled else {
            throw CLIError.refused("\(path) holds no authenticator or backup code: two-step verification is off for \(account.name); run 'twostep enroll'")
        }
        return file
    }

    /// Checks the code and makes the change in one locked update: a wrong
    /// code is recorded (it counts towards the lock-out) and nothing else
    /// changes; a right one is spent and `body` runs on the file.
    func change<T>(authorizing check: CodeCheck, _ body: (inout FactorFile) throws -> T) throws -> T {
        let outcome: Result<T, CLIError> = try access { store in
            try store.update { file in
                if let refusal = check.authorize(&file, at: Clock.now) { return .failure(refusal) }
                return .success(try body(&file))
            }
        }
        return try outcome.get()
    }
}

extension Target {
    /// Before `--force` replaces a readable file that has factors: a code
    /// from it (spent, or counted as a failure), unless root acts with
    /// `--user`. A corrupt file is replaced without one.
    func authorizeReplacement(oldCode: String?) throws {
        guard !isAdministrator else { return }
        let existing: FactorFile
        do {
            existing = try read()
        } catch StoreError.corrupt(let path, let error) {
            Console.error("twostep: replacing \(path), which is corrupt (\(error))")
            return
        }
        guard existing.isEnabled else { return }
        let check = try CodeCheck.obtain(
            for: self, file: existing, given: oldCode, flag: "--old-code",
            question: "Enter a code from your current authenticator or a backup code: ")
        try change(authorizing: check) { _ in }
    }
}
