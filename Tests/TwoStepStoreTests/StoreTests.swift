import Testing
import TwoStepCore
@testable import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed at the end of the test.
final class Scratch {
    let dir: String
    init() {
        var template = Array("/tmp/twostep-store-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chmod(dir, 0o700)
    }
    deinit { _ = system("rm -rf '\(dir)'") }
    var path: String { dir + "/.twostep" }
    func store(user: uid_t = getuid()) -> FactorStore { FactorStore(path: path, user: user) }
}

func sampleFile(codes: Int = 3) throws -> FactorFile {
    let secret = SecretBytes(try SystemRandom.bytes(20))
    var file = FactorFile()
    file.factors.append(TOTPAuthenticator(id: "totp-1", secret: secret, parameters: .standard, label: "Phone", created: 1_700_000_000))
    for i in 1...max(codes, 1) where codes > 0 {
        file.factors.append(try BackupCode.generate(id: "backup-\(i)", created: 1_700_000_000).factor)
    }
    return file
}

func modeOf(_ path: String) -> mode_t {
    var st = stat()
    lstat(path, &st)
    return st.st_mode & 0o7777
}

@Suite struct FactorStoreTests {
    @Test func createThenReadRoundTrips() throws {
        let s = Scratch()
        let file = try sampleFile()
        try s.store().create(file)
        #expect(try s.store().read() == file)
        #expect(modeOf(s.path) == 0o600)
    }

    @Test func createRefusesToOverwrite() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        #expect(throws: StoreError.alreadyExists(path: s.path)) { try s.store().create(try sampleFile()) }
    }

    @Test func missingFileIsNotEnrolledAndMissingDirectoryIsNot() throws {
        let s = Scratch()
        #expect(throws: StoreError.notEnrolled(path: s.path)) { try s.store().read() }
        let gone = FactorStore(path: s.dir + "/nowhere/.twostep", user: getuid())
        #expect(throws: StoreError.directoryMissing(path: s.dir + "/nowhere/.twostep")) { try gone.read() }
    }

    /// Issue 19, item 4: a lock held by another open file (another
    /// process, or here another descriptor: flock locks belong to the open
    /// file) makes every bounded operation give up with `busy` after the
    /// wait, and the file is left as it was.
    @Test func aLockHeldElsewhereIsBusyAfterTheWait() throws {
        let s = Scratch()
        let file = try sampleFile()
        try s.store().create(file)
        let holder = open(s.path, O_RDONLY | O_CLOEXEC)
        #expect(holder >= 0)
        defer { close(holder) }
        #expect(flock(holder, LOCK_EX) == 0)
        let store = FactorStore(path: s.path, user: getuid(), lockWait: .within(milliseconds: 300))
        let busy = StoreError.busy(path: s.path, seconds: 1)
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        #expect(throws: busy) { try store.read() }
        clock_gettime(CLOCK_MONOTONIC, &end)
        let waited = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        #expect(waited >= 0.3 && waited < 2)
        #expect(throws: busy) { try store.update { (f: inout FactorFile) in f.factors.removeAll() } }
        #expect(throws: busy) { try store.remove() }
        #expect("\(busy)".contains("busy"))
        flock(holder, LOCK_UN)
        #expect(try store.read() == file)
    }

    @Test func symlinkIsRefused() throws {
        let s = Scratch()
        let real = s.dir + "/real"
        try FactorStore(path: real, user: getuid()).create(try sampleFile())
        symlink(real, s.path)
        #expect(throws: StoreError.unsafe(path: s.path, reason: "it is a symbolic link")) { try s.store().read() }
        #expect(throws: StoreError.self) { try s.store().update { $0.failures.count = 1 } }
        // the target is untouched
        #expect(try FactorStore(path: real, user: getuid()).read().failures.count == 0)
    }

    @Test func groupOrWorldAccessIsRefused() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        for mode: mode_t in [0o644, 0o640, 0o604, 0o620] {
            chmod(s.path, mode)
            #expect(throws: StoreError.self) { try s.store().read() }
        }
    }

    @Test func wrongOwnerIsRefused() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        chown(s.path, 12345, 12345)
        let error = storeError { _ = try s.store().read() }
        guard case .unsafe(_, let reason)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(reason.contains("uid 12345"))
        // a directory owned by someone who is neither the user nor root
        chown(s.path, 0, 0)
        chown(s.dir, 12345, 12345)
        #expect(throws: StoreError.self) { try s.store(user: 0).read() }
    }

    @Test func groupWritableDirectoryIsRefused() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        chmod(s.dir, 0o770)
        #expect(throws: StoreError.self) { try s.store().read() }
    }

    @Test func hardLinkFifoAndDirectoryAreRefused() throws {
        let s = Scratch()
        let other = s.dir + "/other"
        try FactorStore(path: other, user: getuid()).create(try sampleFile())
        link(other, s.path)
        #expect(throws: StoreError.unsafe(path: s.path, reason: "it has 2 hard links")) { try s.store().read() }
        unlink(s.path)
        mkfifo(s.path, 0o600)
        #expect(throws: StoreError.unsafe(path: s.path, reason: "it is not a regular file")) { try s.store().read() }
        unlink(s.path)
        mkdir(s.path, 0o700)
        #expect(throws: StoreError.self) { try s.store().read() }
    }

    @Test func corruptFileNamesTheLine() throws {
        let s = Scratch()
        let fd = open(s.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        let text = "twostep 1\n# comment\nbogus x=1\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let error = storeError { _ = try s.store().read() }
        guard case .corrupt(_, .malformedFile(let line, _))? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(line == 3)
        // and update never rewrites it
        #expect(throws: StoreError.self) { try s.store().update { $0.failures.count = 9 } }
        var st = stat()
        stat(s.path, &st)
        #expect(st.st_size == text.utf8.count)
    }

    @Test func updateWritesOnlyWhenChangedAndErrorsWriteNothing() throws {
        struct Boom: Error {}
        let s = Scratch()
        try s.store().create(try sampleFile())
        var before = stat(), after = stat()
        stat(s.path, &before)
        try s.store().update { _ in }
        stat(s.path, &after)
        #expect(before.st_ino == after.st_ino)
        #expect(throws: Boom.self) { try s.store().update { $0.factors.removeAll(); throw Boom() } }
        #expect(try s.store().read().factors.count == 4)
        try s.store().update { $0.factors.removeLast() }
        #expect(try s.store().read().factors.count == 3)
    }

    @Test func concurrentWritersAreSerialized() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        let threads = 8, rounds = 40
        nonisolated(unsafe) var failures = 0
        var ids = [pthread_t]()
        final class Box: @unchecked Sendable { let store: FactorStore; let rounds: Int; var errors = 0
            init(_ s: FactorStore, _ r: Int) { store = s; rounds = r } }
        let boxes = (0..<threads).map { _ in Box(s.store(), rounds) }
        for box in boxes {
            var tid = pthread_t()
            let ctx = Unmanaged.passRetained(box).toOpaque()
            pthread_create(&tid, nil, { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                for _ in 0..<box.rounds {
                    do { try box.store.update { $0.failures.count += 1 } } catch { box.errors += 1; print("concurrent update failed: \(error)") }
                }
                return nil
            }, ctx)
            ids.append(tid)
        }
        for tid in ids { pthread_join(tid, nil) }
        failures = boxes.reduce(0) { $0 + $1.errors }
        #expect(failures == 0)
        #expect(try s.store().read().failures.count == threads * rounds)
        // no temporary files are left behind
        let leftovers = try listDirectory(s.dir).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func aWriteThatFailsMidwayLeavesTheOldFile() throws {
        let s = Scratch()
        let original = try sampleFile(codes: 2)
        try s.store().create(original)
        // Limit file size so the write of a much larger file fails with EFBIG part-way.
        signal(SIGXFSZ, SIG_IGN)
        var old = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
        var small = old
        small.rlim_cur = 4096
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &small)
        defer { setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old) }
        let codes = try (1...200).map { try BackupCode.generate(id: "backup-x\($0)", created: 1).factor }
        #expect(throws: StoreError.self) { try s.store().update { $0.factors += codes } }
        setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
        #expect(try s.store().read() == original)
        #expect(try listDirectory(s.dir).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }

    @Test func stateOnlyChangesAreWrittenInPlaceOtherChangesReplace() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        func inode() -> ino_t { var st = stat(); stat(s.path, &st); return st.st_ino }
        let first = inode()
        // A failure count: same length, first sector: patched in place.
        try s.store().update(durability: { .stateOnly }) { $0.failures = FailureState(count: 1, last: 1_764_221_000) }
        #expect(inode() == first)
        #expect(try s.store().read().failures == FailureState(count: 1, last: 1_764_221_000))
        // Same change, durable: a new file.
        try s.store().update { $0.failures.count = 2 }
        let second = inode()
        #expect(second != first)
        // A TOTP step that appears (the line grows): replaced even when relaxed.
        try s.store().update(durability: { .stateOnly }) { file in
            var totp = file.authenticators[0]
            totp.lastStep = 58_807_360
            file.factors[0] = totp
        }
        #expect(inode() != second)
        // Once there, a later step of the same width and a reset of the count
        // are both in the first sector: in place, and the file reads back whole.
        let third = inode()
        try s.store().update(durability: { .stateOnly }) { file in
            var totp = file.authenticators[0]
            totp.lastStep = 58_807_361
            file.factors[0] = totp
            file.failures = FailureState()
        }
        #expect(inode() == third)
        let back = try s.store().read()
        #expect(back.authenticators[0].lastStep == 58_807_361 && back.failures.isClear)
        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        let fd = open(s.path, O_RDONLY)
        let n = read(fd, &bytes, bytes.count)
        close(fd)
        #expect(Array(bytes[0..<n]) == Array(back.text.utf8))
        #expect(try listDirectory(s.dir).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }

    @Test func updateFromASnapshotParsesAgainWhenTheFileChanged() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        let snapshot = try s.store().readSnapshot()
        #expect(snapshot.file.failures.count == 0)
        // Unchanged: the snapshot's file is used and the change lands.
        try s.store().update(from: snapshot) { $0.failures.count += 1 }
        #expect(try s.store().read().failures.count == 1)
        // Changed since (by the line above): the stale snapshot is not used.
        try s.store().update(from: snapshot, durability: { .stateOnly }) { $0.failures.count += 1 }
        #expect(try s.store().read().failures.count == 2)
    }

    @Test func updateInPlaceWritesThroughTheKeptDescriptorOrDeclines() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        // Bring the file to the writer's form first (a durable change).
        try s.store().update { $0.failures.count = 0 }
        func inode() -> ino_t { var st = stat(); stat(s.path, &st); return st.st_ino }
        let first = inode()
        func count(_ file: inout FactorFile) -> Int { file.failures.count += 1; return file.failures.count }

        // Kept open, same file, a same-length change: written in place.
        let snapshot = try s.store().readSnapshot(keepOpen: true)
        #expect(try s.store().updateInPlace(from: snapshot, durability: { _ in .stateOnly }, count) == 1)
        #expect(inode() == first)
        #expect(try s.store().read().failures.count == 1)

        // The same (now stale) snapshot: the bytes changed, declined, nothing written.
        #expect(try s.store().updateInPlace(from: snapshot, durability: { _ in .stateOnly }, count) == nil)
        #expect(try s.store().read().failures.count == 1)

        // A durable change is never made here.
        let fresh = try s.store().readSnapshot(keepOpen: true)
        #expect(try s.store().updateInPlace(from: fresh, durability: { _ in .durable }, count) == nil)
        #expect(try s.store().read().failures.count == 1)

        // A snapshot without kept descriptors: declined.
        #expect(try s.store().updateInPlace(from: try s.store().readSnapshot(), durability: { _ in .stateOnly }, count) == nil)

        // The file was replaced since the read (same bytes, new inode): declined.
        let before = try s.store().readSnapshot(keepOpen: true)
        try s.store().overwrite(with: before.file)
        #expect(inode() != first)
        #expect(try s.store().updateInPlace(from: before, durability: { _ in .stateOnly }, count) == nil)
        #expect(try s.store().read().failures.count == 1)
        #expect(try listDirectory(s.dir).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }

    @Test func aKeptSnapshotOfAFileTheUserCannotWriteFallsBackToReading() throws {
        let s = Scratch()
        let nobody: uid_t = 65534
        chown(s.dir, nobody, nobody)
        let store = s.store(user: nobody)
        try FileSystemIdentity.run(uid: nobody, gid: nobody) { try store.create(try sampleFile()) }
        chmod(s.path, 0o400)
        let snapshot = try FileSystemIdentity.run(uid: nobody, gid: nobody) { try store.readSnapshot(keepOpen: true) }
        #expect(snapshot.file.authenticators.count == 1)
        // Nothing is kept open for writing: the fast path declines.
        #expect(try store.updateInPlace(from: snapshot, durability: { _ in .stateOnly }) { $0.failures.count += 1 } == nil)
    }

    @Test func readersNeverSeeAHalfWrittenPatch() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        final class Box: @unchecked Sendable {
            let store: FactorStore; let writer: Bool; var errors = 0
            init(_ s: FactorStore, _ w: Bool) { store = s; writer = w }
        }
        let boxes = (0..<6).map { Box(s.store(), $0 < 3) }
        var ids = [pthread_t]()
        for box in boxes {
            var tid = pthread_t()
            pthread_create(&tid, nil, { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                for i in 0..<300 {
                    do {
                        if box.writer {
                            try box.store.update(durability: { .stateOnly }) {
                                $0.failures.count += 1
                                $0.failures.last = 1_764_221_000 + Int64(i % 2) * 1_111_111
                            }
                        } else {
                            _ = try box.store.read()
                        }
                    } catch { box.errors += 1 }
                }
                return nil
            }, Unmanaged.passRetained(box).toOpaque())
            ids.append(tid)
        }
        for tid in ids { pthread_join(tid, nil) }
        #expect(boxes.reduce(0) { $0 + $1.errors } == 0)
        #expect(try s.store().read().failures.count == 900)
    }

    @Test func removeDeletesTheFile() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        try s.store().remove()
        #expect(try s.store().exists() == false)
    }
}

func listDirectory(_ path: String) throws -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names = [String]()
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// The StoreError `body` throws, or nil when it succeeds.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do { try body() } catch { return error as? StoreError }
    return nil
}

@Suite struct StaleTemporaryTests {
    /// A temporary file (`.` + the file name + `.RANDOM.tmp`) left by a killed writer (it holds old secrets) is
    /// removed by the next durable change once it is a minute old; a young
    /// one (a create in progress) and unrelated files are left alone.
    @Test func durableChangesRemoveOldLeftovers() throws {
        let s = Scratch()
        try s.store().create(try sampleFile())
        let old = s.dir + "/..twostep.deadbeef0000.tmp"
        let young = s.dir + "/..twostep.cafe00000000.tmp"
        let other = s.dir + "/.twostep-notes.tmp"
        for p in [old, young, other] { close(open(p, O_WRONLY | O_CREAT, 0o600)) }
        var times = [timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)]
        utimensat(AT_FDCWD, old, &times, 0)
        utimensat(AT_FDCWD, other, &times, 0)
        try s.store().update { $0.factors.removeLast() }
        let names = try listDirectory(s.dir)
        #expect(!names.contains("..twostep.deadbeef0000.tmp"))
        #expect(names.contains("..twostep.cafe00000000.tmp"))
        #expect(names.contains(".twostep-notes.tmp"))
        utimensat(AT_FDCWD, young, &times, 0)
        try s.store().remove()
        #expect(try listDirectory(s.dir) == [".twostep-notes.tmp"])
    }
}

@Suite struct InPlacePatchTests {
    let old = Array(repeating: UInt8(ascii: "a"), count: 2000)

    func changed(_ offsets: Int...) -> [UInt8] {
        var new = old
        for o in offsets { new[o] = UInt8(ascii: "b") }
        return new
    }

    @Test func differencesInOneSectorGiveTheirRange() {
        #expect(InPlacePatch.range(from: old, to: changed(100)) == 100..<101)
        #expect(InPlacePatch.range(from: old, to: changed(100, 300, 511)) == 100..<512)
        #expect(InPlacePatch.range(from: old, to: changed(512, 1023)) == 512..<1024)
    }

    @Test func twoSectorsOtherLengthsOrNoChangeGiveNil() {
        #expect(InPlacePatch.range(from: old, to: changed(511, 512)) == nil)
        #expect(InPlacePatch.range(from: old, to: changed(10, 1500)) == nil)
        #expect(InPlacePatch.range(from: old, to: old + [1]) == nil)
        #expect(InPlacePatch.range(from: old, to: old) == nil)
        #expect(InPlacePatch.range(from: [], to: []) == nil)
    }
}

@Suite struct UserAccountTests {
    @Test func rootIsFoundByNameAndByID() throws {
        let byName = try #require(try UserAccount.named("root"))
        #expect(byName.uid == 0 && byName.gid == 0 && byName.name == "root" && byName.home.hasPrefix("/"))
        #expect(try UserAccount.withID(0) == byName)
    }

    @Test func anUnknownUserIsNilNotAnError() throws {
        #expect(try UserAccount.named("no-such-user-\(getpid())") == nil)
        #expect(try UserAccount.withID(uid_t(Int32.max - 7)) == nil)
    }
}
