import Synchronization
import Testing
import TwoStepCore
@testable import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// Records in memory, as a database holds them; `reachable` false makes
/// every call `unavailable`.
final class MemoryBackend: RecordBackend, @unchecked Sendable {
    let records = Mutex<[String: (text: [UInt8], version: Int64)]>([:])
    let reachable = Atomic<Bool>(true)
    var name: String { "memory" }

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        guard reachable.load(ordering: .relaxed) else { throw .unavailable(path: user, reason: "down") }
        return records.withLock { $0[user].map { StoredRecord(text: SecretBytes($0.text), version: $0.version) } }
    }

    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        guard reachable.load(ordering: .relaxed) else { throw .unavailable(path: user, reason: "down") }
        return records.withLock { r in
            guard r[user]?.version == version else { return false }
            r[user] = (text, (version ?? 0) + 1)
            return true
        }
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool {
        records.withLock { $0.removeValue(forKey: user) != nil }
    }

    func file(_ user: String) throws -> FactorFile? {
        try fetch(user: user).map { try FactorFile(stored: $0.text, location: user) }
    }
}

@Suite("twostepd's offline journal and copies")
struct OfflineJournalTests {
    let policy = VerificationPolicy(window: 1, maxFailures: 5, lockoutSeconds: 300)
    let now: Int64 = 1_796_000_000

    func record(lastStep: UInt64?) throws -> [UInt8] {
        var file = FactorFile()
        file.factors.append(TOTPAuthenticator(id: "totp-1", secret: SecretBytes(Array(repeating: 7, count: 20)), parameters: .standard,
                                              label: "Phone", created: 1_700_000_000, lastStep: lastStep))
        return Array(file.text.utf8)
    }

    @Test("a line round-trips: user names of any bytes, steps, no steps, no accepted time")
    func lineRoundTrip() {
        for entry in [
            OfflineJournal.Entry(user: "alice", change: OfflineChange(steps: ["totp-1": 104, "totp-2": 7], failures: 2, accepted: now, time: now)),
            OfflineJournal.Entry(user: "name with spaces é", change: OfflineChange(failures: 1, time: now)),
        ] {
            let line = OfflineJournal.line(entry)
            #expect(line.last == 10 && line.dropLast().allSatisfy { $0 != 10 })
            #expect(OfflineJournal.parse(line.dropLast()) == entry)
        }
        #expect(String(decoding: OfflineJournal.line(.init(user: "a", change: OfflineChange(time: 5))), as: UTF8.self) == "v1 61 5 0 - -\n")
        for bad in ["", "v2 61 5 0 - -", "v1 zz 5 0 - -", "v1 61 x 0 - -", "v1 61 5 -1 - -", "v1 61 5 0 - totp-1", "v1 61 5 0 -"] {
            #expect(OfflineJournal.parse(ArraySlice(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test("append, then merge: steps and failures reach the records, the journal goes")
    func appendAndMerge() throws {
        let s = Scratch()
        let journal = OfflineJournal(directory: s.dir)
        #expect(!journal.hasEntries)
        let database = MemoryBackend()
        database.records.withLock { $0["alice"] = (try! record(lastStep: 100), 1); $0["bob"] = (try! record(lastStep: 300), 1) }
        try journal.append(.init(user: "alice", change: OfflineChange(steps: ["totp-1": 104], accepted: now, time: now)))
        try journal.append(.init(user: "alice", change: OfflineChange(failures: 2, time: now + 1)))
        try journal.append(.init(user: "bob", change: OfflineChange(steps: ["totp-1": 200], time: now)))
        try journal.append(.init(user: "carol", change: OfflineChange(failures: 1, time: now)))
        #expect(journal.hasEntries)
        #expect(modeOf(journal.path) == 0o600)
        var events: [OfflineJournal.MergeEvent] = []
        #expect(journal.merge(into: database, policy: policy) { events.append($0) })
        #expect(events == [.usedElsewhere(user: "bob", factor: "totp-1", step: 200), .noRecord(user: "carol"), .merged(entries: 4)])
        let alice = try #require(try database.file("alice"))
        #expect((alice.factors[0] as? TOTPAuthenticator)?.lastStep == 104)
        #expect(alice.failures.count == 2 && alice.failures.lastAccepted == now)
        #expect((try database.file("bob")?.factors[0] as? TOTPAuthenticator)?.lastStep == 300)
        #expect(!journal.hasEntries)
        #expect(journal.merge(into: database, policy: policy) { _ in Issue.record("nothing to merge") })
    }

    @Test("an unreachable database: nothing merged, the journal kept whole; an unparsable line is dropped")
    func unreachableKeepsTheRest() throws {
        let s = Scratch()
        let journal = OfflineJournal(directory: s.dir)
        let database = MemoryBackend()
        database.records.withLock { $0["alice"] = (try! record(lastStep: 100), 1) }
        put("garbage\n", at: journal.path)
        try journal.append(.init(user: "alice", change: OfflineChange(failures: 1, time: now)))
        database.reachable.store(false, ordering: .relaxed)
        var events: [OfflineJournal.MergeEvent] = []
        #expect(!journal.merge(into: database, policy: policy) { events.append($0) })
        #expect(events == [.unparsable])
        // The bad line went, alice's entry stayed.
        #expect(contents(journal.path) == String(decoding: OfflineJournal.line(.init(user: "alice", change: OfflineChange(failures: 1, time: now))), as: UTF8.self))
        #expect(temporaries(in: s.dir).isEmpty)
        database.reachable.store(true, ordering: .relaxed)
        #expect(journal.merge(into: database, policy: policy) { _ in })
        #expect(try database.file("alice")?.failures.count == 1)
    }

    @Test("copies: written and read back with their versions; refused when unsafe; removed")
    func copies() throws {
        let s = Scratch()
        let copies = OfflineCopies(directory: s.dir + "/cache")
        try copies.prepare(owner: geteuid())
        #expect(modeOf(copies.directory) == 0o700)
        #expect(copies.read("alice") == nil && !copies.exists("alice"))
        let text = try record(lastStep: 100)
        try copies.write("alice", .init(text: SecretBytes(text), version: 7, fetched: now, local: 1), durable: false)
        try copies.write("alice", .init(text: SecretBytes(text), version: 7, fetched: now, local: 2), durable: true)
        let copy = try #require(copies.read("alice"))
        #expect(copy.version == 7 && copy.fetched == now && copy.local == 2)
        #expect(copy.text == SecretBytes(text))
        #expect(copies.path(of: "alice") == copies.directory + "/616c696365")
        chmod(copies.path(of: "alice"), 0o644)
        #expect(copies.read("alice") == nil)
        #expect(copies.remove("alice") && !copies.remove("alice"))
        put("twostep-copy 1 x 0 1\n", at: copies.path(of: "bob"))
        #expect(copies.read("bob") == nil)
        #expect(temporaries(in: copies.directory).isEmpty)
    }
}
