import Testing
import TwoStepCore
@testable import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to `path` (mode `mode`), returns the path.
@discardableResult
func put(_ text: String, at path: String, mode: mode_t = 0o600) -> String {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    precondition(fd >= 0)
    _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
    chmod(path, mode)
    return path
}

/// The text of the file at `path`, nil when it cannot be read.
func contents(_ path: String) -> String? {
    guard let bytes = try? SafeFile.read(path, rules: FileRules(maxSize: 1 << 20)) else { return nil }
    return bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}

/// The names in `directory` that end in `.tmp`.
func temporaries(in directory: String) -> [String] {
    guard let dir = try? FileDescriptor(opening: directory, flags: O_RDONLY | O_DIRECTORY) else { return [] }
    var names: [String] = []
    dir.forEachEntry { if $0.hasSuffix(".tmp") { names.append($0) } }
    return names
}

@Suite("The file layer: safe read, atomic replace, private directory, lock")
struct FileLayerTests {
    let mine = FileRules(owner: geteuid(), forbiddenMode: 0o077, maxSize: 1 << 20)

    @Test("a safe read returns the bytes; a symbolic link is refused, not followed")
    func symlinkRefused() throws {
        let s = Scratch()
        put("secret\n", at: s.dir + "/real")
        #expect(contents(s.dir + "/real") == "secret\n")
        symlink(s.dir + "/real", s.dir + "/link")
        #expect(throws: StoreError.unsafe(path: s.dir + "/link", reason: "it is a symbolic link")) {
            try SafeFile.read(s.dir + "/link", rules: mine)
        }
        #expect(throws: StoreError.io(path: s.dir + "/none", operation: "open", errno: ENOENT)) {
            try SafeFile.read(s.dir + "/none", rules: mine)
        }
    }

    @Test("wrong mode, wrong owner, not a regular file, a second link: refused before reading")
    func wrongOwnerOrMode() throws {
        let s = Scratch()
        let path = put("x\n", at: s.dir + "/f", mode: 0o640)
        #expect(throws: StoreError.unsafe(path: path, reason: "group or others may access it (mode 640)")) { try SafeFile.read(path, rules: mine) }
        // Group-readable is fine where only writing is forbidden.
        #expect(try SafeFile.read(path, rules: FileRules(owner: geteuid(), forbiddenMode: 0o022, maxSize: 100)).count == 2)
        chmod(path, 0o600)
        let other: uid_t = geteuid() == 0 ? 65534 : 0
        #expect(throws: StoreError.unsafe(path: path, reason: "it is owned by uid \(geteuid())")) {
            try SafeFile.read(path, rules: FileRules(owner: other, forbiddenMode: 0o077, maxSize: 100))
        }
        #expect(throws: StoreError.unsafe(path: s.dir, reason: "it is not a regular file")) { try SafeFile.read(s.dir, rules: mine) }
        link(path, s.dir + "/second")
        #expect(throws: StoreError.unsafe(path: path, reason: "it has 2 hard links")) {
            try SafeFile.read(path, rules: FileRules(maxSize: 100, singleLink: true))
        }
        #expect(FileRules(maxSize: 10, minSize: 1).violation(stat()) == .notRegular)
    }

    @Test("the size cap: refused by fstat, and when the file is larger than fstat said")
    func sizeCap() throws {
        let s = Scratch()
        let path = put(String(repeating: "a", count: 5000), at: s.dir + "/big")
        #expect(throws: StoreError.unsafe(path: path, reason: "it is larger than 4999 bytes")) {
            try SafeFile.read(path, rules: FileRules(maxSize: 4999))
        }
        #expect(try SafeFile.read(path, rules: FileRules(maxSize: 5000)).count == 5000)
        // A file that grew after fstat (here: an expected size of 0): read
        // on through larger buffers, up to the cap.
        let fd = try FileDescriptor(opening: path, flags: O_RDONLY)
        #expect(try fd.readAll(expectedSize: 0, maxSize: 1 << 20, path: path).count == 5000)
        // From the descriptor's offset (`read`): once, then nothing is left.
        #expect(try fd.readAll(expectedSize: 5000, maxSize: 1 << 20, path: path, fromStart: false).count == 5000)
        #expect(try fd.readAll(expectedSize: 5000, maxSize: 1 << 20, path: path, fromStart: false).count == 0)
        #expect(throws: StoreError.unsafe(path: path, reason: "it is larger than 1000 bytes")) {
            try fd.readAll(expectedSize: 10, maxSize: 1000, path: path)
        }
        // An empty file, a file with less than fstat said.
        put("", at: path)
        #expect(try fd.readAll(expectedSize: 100, maxSize: 1000, path: path).count == 0)
    }

    @Test("atomic replace: new content, owner and mode as asked, no temporary file left")
    func replace() throws {
        let s = Scratch()
        let path = put("old\n", at: s.dir + "/file")
        try AtomicReplace().replace(path: path, with: Array("new\n".utf8))
        #expect(contents(path) == "new\n")
        #expect(modeOf(path) == 0o600)
        if geteuid() == 0 {
            try AtomicReplace(owner: (65534, 65534), mode: 0o644).replace(path: path, with: Array("owned\n".utf8))
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534 && st.st_mode & 0o7777 == 0o644)
        }
        try AtomicReplace.unsynced.replace(path: path, with: Array("fast\n".utf8))
        #expect(contents(path) == "fast\n")
        #expect(temporaries(in: s.dir).isEmpty)
    }

    @Test("atomic replace that cannot rename leaves the old file and no temporary file")
    func failedReplaceLeavesOld() throws {
        let s = Scratch()
        let path = put("old\n", at: s.dir + "/file")
        let dir = try FileDescriptor(opening: s.dir, flags: O_RDONLY | O_DIRECTORY)
        #expect(throws: StoreError.io(path: path, operation: "rename", errno: EEXIST)) {
            try AtomicReplace().replace("file", in: dir, with: Array("new\n".utf8), noReplace: true, path: path)
        }
        #expect(contents(path) == "old\n")
        #expect(temporaries(in: s.dir).isEmpty)
        try AtomicReplace().replace("fresh", in: dir, with: Array("made\n".utf8), noReplace: true, path: s.dir + "/fresh")
        #expect(contents(s.dir + "/fresh") == "made\n")
    }

    @Test("two writers at once: each temporary file is its own, the file is always one whole version")
    func twoWriters() throws {
        let s = Scratch()
        let path = put(String(repeating: "0", count: 4096), at: s.dir + "/file")
        let versions = (1...2).map { String(repeating: String($0), count: 4096) }
        var threads: [pthread_t] = []
        for version in versions {
            let box = Unmanaged.passRetained(Writer(path: path, text: version))
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                let writer = Unmanaged<Writer>.fromOpaque(raw!).takeRetainedValue()
                for _ in 0..<100 { try? AtomicReplace.unsynced.replace(path: writer.path, with: Array(writer.text.utf8)) }
                return nil
            }, box.toOpaque())
            threads.append(thread)
        }
        for _ in 0..<200 {
            let seen = contents(path)
            #expect(seen.map { ["0", "1", "2"].map { String(repeating: $0, count: 4096) }.contains($0) } == true)
        }
        for thread in threads { pthread_join(thread, nil) }
        #expect(versions.contains(contents(path) ?? ""))
        #expect(temporaries(in: s.dir).isEmpty)
    }

    @Test("stale temporary files older than a minute are removed, younger ones kept")
    func staleTemporaries() throws {
        let s = Scratch()
        put("old", at: s.dir + "/.file.aaaa.tmp")
        put("young", at: s.dir + "/.file.bbbb.tmp")
        var times = [timespec(tv_sec: time(nil) - 120, tv_nsec: 0), timespec(tv_sec: time(nil) - 120, tv_nsec: 0)]
        utimensat(AT_FDCWD, s.dir + "/.file.aaaa.tmp", &times, 0)
        let dir = try FileDescriptor(opening: s.dir, flags: O_RDONLY | O_DIRECTORY)
        AtomicReplace.removeStaleTemporaries(of: "file", in: dir)
        #expect(temporaries(in: s.dir) == [".file.bbbb.tmp"])
    }

    @Test("private directory: made 0700; a link, an open mode or another owner refused")
    func privateDirectory() throws {
        let s = Scratch()
        let path = s.dir + "/private"
        _ = try PrivateDirectory.open(path, owner: geteuid())
        #expect(modeOf(path) == 0o700)
        _ = try PrivateDirectory.open(path, owner: geteuid())  // again: it exists
        symlink(path, s.dir + "/link")
        #expect(throws: StoreError.unsafe(path: s.dir + "/link", reason: "it is not a directory (a symbolic link?)")) {
            _ = try PrivateDirectory.open(s.dir + "/link", owner: geteuid())
        }
        chmod(path, 0o750)
        #expect(throws: StoreError.self) { _ = try PrivateDirectory.open(path, owner: geteuid()) }
        chmod(path, 0o700)
        let other: uid_t = geteuid() == 0 ? 65534 : 0
        #expect(throws: StoreError.self) { _ = try PrivateDirectory.open(path, owner: other) }
        #expect(throws: StoreError.io(path: s.dir + "/none/deeper", operation: "create", errno: ENOENT)) {
            _ = try PrivateDirectory.open(s.dir + "/none/deeper")
        }
    }

    @Test("a lock held through another open file: busy at the deadline, then free again")
    func lockDeadline() throws {
        let s = Scratch()
        let dir = try FileDescriptor(opening: s.dir, flags: O_RDONLY | O_DIRECTORY)
        let path = s.dir + "/.lock"
        let first = try FileLock(".lock", in: dir, wait: .within(milliseconds: 100), path: path)
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        #expect(throws: StoreError.busy(path: path, seconds: 1)) { _ = try FileLock(".lock", in: dir, wait: .within(milliseconds: 200), path: path) }
        clock_gettime(CLOCK_MONOTONIC, &end)
        let waited = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        #expect(waited >= 0.2 && waited < 2)
        // A shared lock conflicts with the exclusive one too.
        let reader = try FileDescriptor(opening: path, flags: O_RDONLY)
        #expect(throws: StoreError.busy(path: path, seconds: 1)) { try reader.lock(.shared, wait: .within(milliseconds: 10), path: path) }
        _ = consume first
        try reader.lock(.shared, wait: .within(milliseconds: 10), path: path)
        reader.unlock()
        _ = try FileLock(path: path, wait: .untilAcquired)
    }

    @Test("a lock held by another process: busy")
    func lockHeldByAnotherProcess() throws {
        let s = Scratch()
        let path = s.dir + "/.lock"
        put("", at: path)
        var pid: pid_t = 0
        let words = ["flock", "-x", path, "sleep", "2"]
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        argv.append(nil)
        defer { argv.forEach { free($0) } }
        guard posix_spawnp(&pid, "flock", nil, nil, argv, environ) == 0 else { return }  // no flock(1) here
        defer { var status: Int32 = 0; waitpid(pid, &status, 0) }
        var held = false
        for _ in 0..<100 where !held {  // until the child holds it
            let probe = try FileDescriptor(opening: path, flags: O_RDONLY)
            held = flock(probe.raw, LOCK_SH | LOCK_NB) != 0
            if !held { probe.unlock(); usleep(10_000) }
        }
        #expect(held)
        #expect(throws: StoreError.busy(path: path, seconds: 1)) { _ = try FileLock(path: path, wait: .within(milliseconds: 100)) }
    }

    @Test("stored text: not UTF-8 is corrupt, naming the line of the first bad byte")
    func storedText() throws {
        var bytes = Array("twostep 1\nfailures count=0000 locked-until=0000000000 last=0000000000\n".utf8)
        bytes += [0x23, 0xFF, 0x0A]  // line 3: "#\u{FF}"
        #expect(throws: StoreError.corrupt(path: "x", error: .malformedFile(line: 3, reason: "not UTF-8 text"))) {
            try FactorFile(stored: bytes, location: "x")
        }
        #expect(FactorFile.firstLineNotUTF8(Array("a\nb\n".utf8)) == nil)
        #expect(FactorFile.firstLineNotUTF8([0xC3]) == 1)
        let file = try sampleFile()
        #expect(try FactorFile(stored: Array(file.text.utf8), location: "x") == file)
        #expect(try FactorFile(stored: SecretBytes(Array(file.text.utf8)), location: "x") == file)
    }
}

/// One writer thread's file and text.
final class Writer {
    let path: String
    let text: String
    init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
