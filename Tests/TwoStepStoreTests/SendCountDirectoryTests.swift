import Testing
import TwoStepCore
@testable import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

@Suite("SendCountDirectory: root's send tallies on disk")
struct SendCountDirectoryTests {
    let number = try! PhoneNumber(parsing: "+966501234534")
    let policy = SendPolicy(limit: 2, window: 900)

    @Test("made on first use (0700), counts per account and per number, refuses past the limit")
    func counts() throws {
        guard geteuid() == 0 else { return }  // the tallies are root's
        let scratch = Scratch()
        let tallies = SendCountDirectory(path: scratch.dir + "/sends")
        #expect(try tallies.admit(account: "alice", number: number, policy: policy, at: 1000) == nil)
        #expect(try tallies.admit(account: "bob", number: number, policy: policy, at: 1001) == nil)
        #expect(try tallies.admit(account: "carol", number: number, policy: policy, at: 1002) == 1900)
        var st = stat()
        #expect(stat(scratch.dir + "/sends", &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(scratch.dir + "/sends/number.+966501234534", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try !tallies.isConfirmed(account: "alice", number: number))
        try tallies.confirm(account: "alice", number: number, at: 1003)
        #expect(try tallies.isConfirmed(account: "alice", number: number))
        #expect(try !tallies.isConfirmed(account: "bob", number: number))
    }

    @Test("a directory open to others, a symlink or a held lock: an error, never a send")
    func failsClosed() throws {
        guard geteuid() == 0 else { return }
        let scratch = Scratch()
        let path = scratch.dir + "/sends"
        mkdir(path, 0o755)
        #expect(throws: StoreError.self) { try SendCountDirectory(path: path).admit(account: "a", number: number, policy: policy, at: 1) }
        symlink(scratch.dir, scratch.dir + "/link")
        #expect(throws: StoreError.self) {
            try SendCountDirectory(path: scratch.dir + "/link").admit(account: "a", number: number, policy: policy, at: 1)
        }
        chmod(path, 0o700)
        let lock = open(path + "/.lock", O_RDWR | O_CREAT, 0o600)
        defer { close(lock) }
        #expect(flock(lock, LOCK_EX) == 0)
        // Another descriptor of the same file: flock conflicts across open file descriptions.
        let started = time(nil)
        #expect(throws: StoreError.self) { try SendCountDirectory(path: path).admit(account: "a", number: number, policy: policy, at: 1) }
        #expect(time(nil) - started <= Int(SendCountDirectory.lockWait) + 2)
    }
}
