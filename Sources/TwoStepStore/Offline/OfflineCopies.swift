import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// twostepd's copies of records for `offline=cached` (SPEC §9): one file
/// per user, `DIR/HEX(user)` (root, 0600), holding the header line
/// `twostep-copy 1 VERSION FETCHED LOCAL` and then the record's text: its
/// database version, when it was known current, and this host's own
/// version of it (bumped by every change made offline).
public struct OfflineCopies: Sendable {
    /// The cache directory (root's, 0700: `PrivateDirectory`).
    public let directory: String
    /// Larger copies are refused unread.
    public static let maxSize = 4 << 20

    /// The copies in `directory`; `prepare` makes and checks it.
    public init(directory: String) {
        self.directory = directory
    }

    /// Makes the directory (0700) when missing and checks it: a directory,
    /// not a link, owned by `owner` (root), no access for group or others.
    public func prepare(owner: uid_t = 0) throws(StoreError) {
        _ = try PrivateDirectory.open(directory, owner: owner)
    }

    /// One user's copy.
    public struct Copy: Sendable {
        /// The record's text (a secret: zeroed when released).
        public var text: SecretBytes
        /// Its version in the database.
        public var version: Int64
        /// When it was known to be the database's current record.
        public var fetched: Int64
        /// This host's version of it: 1, plus one per change made offline.
        public var local: Int64

        /// A copy of `text` at database `version`.
        public init(text: SecretBytes, version: Int64, fetched: Int64, local: Int64) {
            self.text = text
            self.version = version
            self.fetched = fetched
            self.local = local
        }
    }

    /// Where `user`'s copy is.
    public func path(of user: String) -> String { directory + "/" + Hex.encode(Array(user.utf8)) }

    /// `user`'s copy; nil when there is none or it is unusable (unsafe,
    /// malformed).
    public func read(_ user: String) -> Copy? {
        let rules = FileRules(owner: geteuid(), forbiddenMode: 0o077, maxSize: Self.maxSize)
        guard let stored = try? SafeFile.read(path(of: user), rules: rules) else { return nil }
        return stored.withUnsafeBytes { bytes -> Copy? in
            guard let newline = bytes.firstIndex(of: 10) else { return nil }
            let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
            guard fields.count == 5, fields[0] == "twostep-copy", fields[1] == "1",
                  let version = Int64(fields[2]), let fetched = Int64(fields[3]), let local = Int64(fields[4]), local > 0 else { return nil }
            return Copy(text: SecretBytes(UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...])), version: version, fetched: fetched, local: local)
        }
    }

    /// Stores `copy` as `user`'s (`AtomicReplace`). `durable`: for a change
    /// made offline, which must survive a crash (else the same step could
    /// be accepted twice on this host); a refresh from the database need
    /// not be (the next fetch writes it again).
    public func write(_ user: String, _ copy: Copy, durable: Bool) throws(StoreError) {
        var bytes = Array("twostep-copy 1 \(copy.version) \(copy.fetched) \(copy.local)\n".utf8)
        copy.text.withUnsafeBytes { bytes.append(contentsOf: $0) }
        defer { cleanse(&bytes) }
        try (durable ? AtomicReplace() : .unsynced).replace(path: path(of: user), with: bytes)
    }

    /// True when `user` has a copy here.
    public func exists(_ user: String) -> Bool {
        access(path(of: user), F_OK) == 0
    }

    /// Removes `user`'s copy; true when there was one.
    @discardableResult
    public func remove(_ user: String) -> Bool {
        unlink(path(of: user)) == 0
    }
}
