import Foundation
import Testing
@testable import TwoStepDaemon
import TwoStepCore
import TwoStepStore
import TwoStepVarlink

/// A backend in memory, for io.twostep.Login's replies.
final class MemoryBackend: RecordBackend, SendCounter, @unchecked Sendable {
    var name: String { "memory" }
    func fetch(user: String) throws(StoreError) -> StoredRecord? {
        user == "alice" ? StoredRecord(text: SecretBytes(Array("twostep-factors v1\n".utf8)), version: 3) : nil
    }
    func store(user: String, text: [UInt8], replacing version: Int64?) throws(StoreError) -> Bool { version == nil }
    func delete(user: String, version: Int64) throws(StoreError) -> Bool { version == 3 }
    func admit(account: String, number: PhoneNumber, policy: SendPolicy, at now: Int64) throws(StoreError) -> Int64? { nil }
}

/// The interfaces twostepd serves answer as their definitions say: every
/// declared method is dispatched, replies have the declared fields, and
/// parameters outside the declaration are refused.
@Suite("The interfaces")
struct InterfaceTests {
    static let root = PeerCredentials(uid: 0, gid: 0, pid: 1)

    /// The keys of a reply's JSON object.
    static func keys(_ data: Data) throws -> Set<String> {
        Set(try JSONDecoder().decode(VarlinkValue.self, from: data).objectValue?.keys ?? [:].keys)
    }

    @Test("io.twostep.Login: each method's reply has exactly the fields the IDL declares")
    func loginReplies() throws {
        let login = LoginInterface(backend: MemoryBackend(), counter: MemoryBackend())
        let idl = try VarlinkIDL.parse(login.description)
        #expect(login.name == LoginProtocol.interface)
        #expect(Set(LoginInterface.parameterNames.keys) == Set(LoginProtocol.Method.allCases))
        let calls: [LoginProtocol.Method: String] = [
            .fetch: #"{"user":"alice"}"#,
            .store: #"{"user":"bob","record":"x","version":null}"#,
            .delete: #"{"user":"alice","version":3}"#,
            .admitSend: #"{"user":"alice","number":"+966501234534","limit":5,"window":3600}"#,
        ]
        for method in LoginProtocol.Method.allCases {
            let parameters = try #require(calls[method])
            let declared = try #require(idl.methods[method.rawValue])
            #expect(Set(declared.parameters.map(\.name)) == (try Self.keys(Data(parameters.utf8))), "\(method)")
            let reply = try login.call(method: method.rawValue, parameters: Data(parameters.utf8), peer: Self.root)
            #expect(try Self.keys(reply) == Set(declared.reply.map(\.name)), "\(method)")
        }
        // Nobody (uid 1000) is refused, an unknown field too, an unknown method is MethodNotFound.
        #expect(throws: VarlinkError.permissionDenied) {
            try login.call(method: "Fetch", parameters: Data(#"{"user":"alice"}"#.utf8), peer: PeerCredentials(uid: 1000, gid: 1000, pid: 1))
        }
        #expect(throws: VarlinkError.invalidParameter("extra")) {
            try login.call(method: "Fetch", parameters: Data(#"{"user":"alice","extra":1}"#.utf8), peer: Self.root)
        }
        #expect(throws: VarlinkError.methodNotFound("io.twostep.Login.Nope")) {
            try login.call(method: "Nope", parameters: Data("{}".utf8), peer: Self.root)
        }
    }

    @Test("io.twostep.Manage.DatabaseStatus: root only; with backend=file it says so and nothing else")
    func databaseStatus() throws {
        let manage = ManageInterface(configuration: SystemConfiguration())
        #expect(throws: VarlinkError.self) {
            try manage.call(method: "DatabaseStatus", parameters: Data("{}".utf8), peer: PeerCredentials(uid: 1000, gid: 1000, pid: 1))
        }
        let reply = try manage.call(method: "DatabaseStatus", parameters: Data("{}".utf8), peer: Self.root)
        let status = try JSONDecoder().decode(DatabaseStatus.self, from: reply)
        #expect(status.backend == "file" && status.host == nil && status.calls == 0)
        #expect(throws: VarlinkError.self) {
            try manage.call(method: "DatabaseStatus", parameters: Data(#"{"user":"alice"}"#.utf8), peer: Self.root)
        }
    }

    @Test("io.twostep.Manage: served from ManageProtocol, every method has its declared parameters")
    func manage() throws {
        let manage = ManageInterface(configuration: SystemConfiguration())
        #expect(manage.name == ManageProtocol.interface)
        #expect(manage.description == ManageProtocol.idl)
        #expect(manage.declaredMethods == Set(ManageProtocol.Method.allCases.map(\.rawValue)))
        #expect(Set(ManageInterface.parameterNames.keys) == Set(ManageProtocol.Method.allCases))
        for (method, names) in ManageInterface.parameterNames where method != .databaseStatus {
            #expect(names.contains("user"), "\(method)")
        }
        #expect(ManageInterface.parameterNames[.databaseStatus] == [])
        #expect(throws: VarlinkError.methodNotFound("io.twostep.Manage.Nope")) {
            try manage.call(method: "Nope", parameters: Data("{}".utf8), peer: Self.root)
        }
    }

    @Test("the accounts layer's errors are the interface's, by their defined names")
    func errors() {
        #expect(ManageInterface.varlinkError(.usage("u")) == VarlinkError(name: "io.twostep.Manage.UsageError", parameters: ["message": "u"]))
        #expect(ManageInterface.varlinkError(.refused("r")).name == ManageProtocol.ErrorName.codeRefused.qualifiedName)
        #expect(ManageInterface.varlinkError(.failure("f")).name == ManageProtocol.ErrorName.storeProblem.qualifiedName)
        #expect(ManageInterface.error(.invalidUser, "x").name == ManageProtocol.ErrorName.invalidUser.qualifiedName)
    }
}
