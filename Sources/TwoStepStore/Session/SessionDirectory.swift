import CLinux
import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// `socket_dir`/sessions (SPEC §12): the one-time notes a login's
/// authentication leaves for its session stack, and the records of login
/// sessions that passed the second step.
///
///     sessions/              root, 0711: others may reach a record by name, not list them
///     note-HEX32             root, 0600: a SessionNote, taken (unlinked) once
///     BOOT-SESSIONID-UID     root, 0644: a SessionRecord, no secret in it
///
/// `socket_dir` (default /run/twostep) is made 0755 when missing, as
/// twostepd's sockets need it; it and sessions/ must be directories root
/// owns that group and others cannot write, not symbolic links. /run is a
/// tmpfs: everything here is gone at reboot.
public struct SessionDirectory: Sendable {
    public let socketDirectory: String
    public var path: String { socketDirectory + "/sessions" }

    public init(socketDirectory: String) {
        self.socketDirectory = socketDirectory
    }

    /// The PAM environment variable that carries a note's name from the
    /// authentication to the session stack.
    public static let variable = "TWOSTEP_SESSION_NOTE"

    /// Leaves `note` and returns its random name (32 hex digits). Notes
    /// older than their lifetime that no session took are removed first.
    public func leave(_ note: SessionNote) throws(StoreError) -> String {
        let dir = try open(create: true, listing: true)
        removeStaleNotes(in: dir)
        let name: String
        do { name = Hex.encode(try SystemRandom.bytes(16)) } catch {
            throw .io(path: path, operation: "getrandom for a note in", errno: EIO)
        }
        let file = "note-" + name
        try AtomicReplace(owner: (0, 0), mode: 0o600, syncFile: false, syncDirectory: false)
            .replace(file, in: dir, with: Array(note.text.utf8), noReplace: true, path: path + "/" + file)
        return name
    }

    /// What `take` found.
    public enum Taking: Sendable, Equatable {
        /// No note of that name (never left, taken already, or not a note's name).
        case none
        /// A note bound to other processes: left in place for them.
        case boundElsewhere
        /// The note, bound to this process and now removed: used once.
        case taken(SessionNote)
    }

    /// Takes the note `name` (as the PAM environment carried it) for
    /// `process`: read, and removed only when it is bound to `process` (its
    /// opener or the opener's parent), so that a name that reached another
    /// process uses nothing up. Two callers cannot both take one note:
    /// whoever unlinks it has it.
    /// - Throws: `.unsafe` for a note that is not root's private regular
    ///   file; `.corrupt` for one that does not parse (it is removed); `.io`.
    public func take(noteNamed name: String, for process: ProcessStamp) throws(StoreError) -> Taking {
        guard name.utf8.count == 32, name.utf8.allSatisfy({ Hex.value($0) != nil && !($0 >= 0x41 && $0 <= 0x46) }) else { return .none }
        let dir = try open(create: false)
        let file = "note-" + name
        let bytes: SecretBytes
        do {
            bytes = try SafeFile.read(file, relativeTo: dir.raw, rules: Self.noteRules, path: path + "/" + file)
        } catch .io(_, "open", ENOENT) {
            return .none
        }
        let note: SessionNote
        do {
            note = try SessionNote(parsing: bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
        } catch {
            unlinkat(dir.raw, file, 0)
            throw .corrupt(path: path + "/" + file, error: error)
        }
        guard note.isBound(to: process) else { return .boundElsewhere }
        guard unlinkat(dir.raw, file, 0) == 0 else {
            if errno == ENOENT { return .none }
            throw .io(path: path + "/" + file, operation: "remove", errno: errno)
        }
        return .taken(note)
    }

    /// Writes the record of a login session (replacing one of the same
    /// session and user).
    public func write(_ record: SessionRecord) throws(StoreError) {
        let dir = try open(create: true)
        let file = record.session.fileName(uid: record.uid)
        try AtomicReplace(owner: (0, 0), mode: 0o644, syncFile: false, syncDirectory: false)
            .replace(file, in: dir, with: Array(record.text.utf8), path: path + "/" + file)
    }

    /// The record of `session` for `uid`; nil when there is none.
    /// - Throws: `.unsafe` for a record or directory that is not root's or
    ///   that others can write; `.corrupt`; `.io`.
    public func record(of session: LoginSessionID, uid: UInt32) throws(StoreError) -> SessionRecord? {
        let dir: FileDescriptor
        do {
            dir = try open(create: false)
        } catch .io(_, "open", ENOENT) {
            return nil
        }
        let file = session.fileName(uid: uid)
        let bytes: SecretBytes
        do {
            bytes = try SafeFile.read(file, relativeTo: dir.raw, rules: Self.recordRules, path: path + "/" + file)
        } catch .io(_, "open", ENOENT) {
            return nil
        }
        let record: SessionRecord
        do {
            record = try SessionRecord(parsing: bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
        } catch {
            throw .corrupt(path: path + "/" + file, error: error)
        }
        guard record.session == session, record.uid == uid else {
            throw .unsafe(path: path + "/" + file, reason: "it names another session or user than its file name")
        }
        return record
    }

    /// Removes the record of `session` for `uid`; true when there was one.
    @discardableResult
    public func removeRecord(of session: LoginSessionID, uid: UInt32) throws(StoreError) -> Bool {
        let dir: FileDescriptor
        do {
            dir = try open(create: false)
        } catch .io(_, "open", ENOENT) {
            return false
        }
        let file = session.fileName(uid: uid)
        guard unlinkat(dir.raw, file, 0) == 0 else {
            if errno == ENOENT { return false }
            throw .io(path: path + "/" + file, operation: "remove", errno: errno)
        }
        return true
    }

    /// A note: root's, private, one link, one short line.
    static let noteRules = FileRules(owner: 0, forbiddenMode: 0o077, maxSize: 1024, minSize: 1, singleLink: true)
    /// A record: root's, nobody else may write it.
    static let recordRules = FileRules(owner: 0, forbiddenMode: 0o022, maxSize: 1024, minSize: 1, singleLink: true)

    /// Opens sessions/ (with `create`, making it and `socket_dir` when
    /// missing) and checks both. It is opened as a path only (`O_PATH`:
    /// others have search permission on it, not read permission), unless
    /// the caller `listing` it needs to read its entries.
    func open(create: Bool, listing: Bool = false) throws(StoreError) -> FileDescriptor {
        let parent = try Self.openChecked(socketDirectory, create: create ? 0o755 : nil, flags: twostep_o_path())
        return try Self.openChecked("sessions", relativeTo: parent.raw, path: path, create: create ? 0o711 : nil,
                                    flags: listing ? O_RDONLY : twostep_o_path())
    }

    /// Opens the directory `name` without following a link, making it with
    /// `create`'s mode when missing, and refuses it unless root owns it and
    /// group and others cannot write it.
    private static func openChecked(_ name: String, relativeTo parent: Int32 = AT_FDCWD, path: String? = nil,
                                    create: mode_t?, flags: Int32) throws(StoreError) -> FileDescriptor {
        let path = path ?? name
        if let mode = create {
            if mkdirat(parent, name, mode) == 0 {
                // The umask may have taken bits away: the mode is set as meant.
                _ = fchmodat(parent, name, mode, 0)
            } else if errno != EEXIST {
                throw .io(path: path, operation: "create", errno: errno)
            }
        }
        let dir: FileDescriptor
        do {
            dir = try FileDescriptor(opening: name, relativeTo: parent, flags: flags | O_DIRECTORY | O_NOFOLLOW, path: path)
        } catch .io(_, _, let e) where e == ELOOP || e == ENOTDIR {
            throw .unsafe(path: path, reason: "it is not a directory (a symbolic link?)")
        }
        let st = try dir.status(path: path)
        guard st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            throw .unsafe(path: path, reason: "it must be a directory owned by root that group and others cannot write (it is uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        return dir
    }

    /// Removes notes no session took within their lifetime. Best effort.
    private func removeStaleNotes(in directory: borrowing FileDescriptor) {
        let now = time(nil)
        let dir = directory.raw
        directory.forEachEntry { entry in
            guard entry.hasPrefix("note-") else { return }
            var st = stat()
            guard fstatat(dir, entry, &st, AT_SYMLINK_NOFOLLOW) == 0, now - st.st_mtim.tv_sec > SessionNote.lifetime else { return }
            unlinkat(dir, entry, 0)
        }
    }
}
