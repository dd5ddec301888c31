import Synchronization
import Testing
import TwoStepCore
import TwoStepStore

/// The compare-and-set loop on a backend whose record other writers
/// change (the fleet's real backend is tested against PostgreSQL in
/// Tests/Integration/test_fleet.py).
final class RacingBackend: RecordBackend, @unchecked Sendable {
    let state = Mutex<(text: [UInt8], version: Int64, interferences: Int)>(([], 0, 0))
    var name: String { "test" }

    init(_ file: FactorFile, interferences: Int) {
        state.withLock { $0 = (Array(file.text.utf8), 1, interferences) }
    }

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        state.withLock { s in
            let stored = StoredRecord(text: SecretBytes(s.text), version: s.version)
            // Another host stores a change after this read.
            if s.interferences > 0 { s.interferences -= 1; s.version += 1 }
            return s.version == 0 ? nil : stored
        }
    }

    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        state.withLock { s in
            guard version == s.version else { return false }
            s = (text, s.version + 1, s.interferences)
            return true
        }
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool { false }
}

@Suite struct VersionedRecordStoreTests {
    func record() -> FactorFile {
        var file = FactorFile()
        file.factors.append(TOTPAuthenticator(id: "totp-1", secret: SecretBytes([UInt8](repeating: 7, count: 20)),
                                              parameters: .standard, label: "x", created: 0))
        return file
    }

    @Test func aLostRaceRunsTheBodyAgainOnTheNewerRecord() throws {
        let backend = RacingBackend(record(), interferences: 3)
        let store = VersionedRecordStore(backend: backend, user: "alice")
        let runs = Mutex(0)
        try store.update { file in
            runs.withLock { $0 += 1 }
            file.failures.count += 1
        }
        #expect(runs.withLock { $0 } == 4)
        #expect(try store.read().failures.count == 1)
    }

    @Test func endlessContentionStoresNothingAndSaysSo() throws {
        let backend = RacingBackend(record(), interferences: 1000)
        let store = VersionedRecordStore(backend: backend, user: "alice")
        #expect(throws: StoreError.contended(path: "test: alice")) {
            try store.update { $0.failures.count += 1 }
        }
    }

    @Test func anUnchangedRecordIsNotStored() throws {
        let backend = RacingBackend(record(), interferences: 0)
        let store = VersionedRecordStore(backend: backend, user: "alice")
        try store.update { _ in }
        #expect(backend.state.withLock { $0.version } == 1)
    }
}

/// A backend whose lost store answers with the record as it is now (SPEC
/// §13, twostepd's `twostep_store`): the loop decides again on it without
/// another fetch.
final class ReadingBackend: RecordBackend, @unchecked Sendable {
    let state = Mutex<(text: [UInt8], version: Int64, interferences: Int, fetches: Int, gone: Bool)>(([], 0, 0, 0, false))
    var name: String { "test" }

    init(_ file: FactorFile, interferences: Int) {
        state.withLock { $0 = (Array(file.text.utf8), 1, interferences, 0, false) }
    }

    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        state.withLock { s in
            s.fetches += 1
            return StoredRecord(text: SecretBytes(s.text), version: s.version)
        }
    }

    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool {
        if case .stored = try storeOrRead(user: user, text: text, replacing: version) { return true }
        return false
    }

    func storeOrRead(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> StoreOutcome {
        state.withLock { s in
            // Another host stored a change just before this store.
            if s.interferences > 0 { s.interferences -= 1; s.version += 1 }
            if s.gone { return .superseded(nil) }
            guard version == s.version else { return .superseded(StoredRecord(text: SecretBytes(s.text), version: s.version)) }
            s.text = text
            s.version += 1
            return .stored
        }
    }

    func delete(user: String, version: Int64) throws(StoreError) -> Bool { false }
}

@Suite struct StoreOutcomeTests {
    func record() -> FactorFile { VersionedRecordStoreTests().record() }

    @Test func aLostRaceDecidesAgainOnTheRecordTheStoreReadWithoutAFetch() throws {
        let backend = ReadingBackend(record(), interferences: 3)
        let store = VersionedRecordStore(backend: backend, user: "alice")
        let runs = Mutex(0)
        try store.update { file in
            runs.withLock { $0 += 1 }
            file.failures.count += 1
        }
        #expect(runs.withLock { $0 } == 4)
        #expect(backend.state.withLock { $0.fetches } == 1)  // the first read only
        #expect(backend.state.withLock { $0.version } == 5)
    }

    @Test func aRecordGoneMeanwhileIsNotEnrolled() throws {
        let backend = ReadingBackend(record(), interferences: 0)
        backend.state.withLock { $0.gone = true }
        let store = VersionedRecordStore(backend: backend, user: "alice")
        #expect(throws: StoreError.notEnrolled(path: "test: alice")) {
            try store.update { $0.failures.count += 1 }
        }
    }
}
