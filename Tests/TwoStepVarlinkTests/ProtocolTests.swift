import Testing
@testable import TwoStepVarlink

/// io.twostep.Manage and io.twostep.Login are each defined once
/// (`ManageProtocol`, `LoginProtocol`): the descriptions twostepd serves
/// declare exactly the methods and errors the code calls and answers, and
/// every type they use.
@Suite("The interfaces' definitions")
struct ProtocolTests {
    /// Every named type a description uses is declared in it.
    private func checkTypes(_ interface: VarlinkIDL.Interface) {
        var used: Set<String> = []
        for type in interface.types.values { used.formUnion(type.references) }
        for method in interface.methods.values {
            for field in method.parameters + method.reply { used.formUnion(field.type.references) }
        }
        for fields in interface.errors.values {
            for field in fields { used.formUnion(field.type.references) }
        }
        #expect(used.subtracting(interface.types.keys).isEmpty, "undeclared types")
        #expect(Set(interface.types.keys).subtracting(used).isEmpty, "unused types")
    }

    @Test("io.twostep.Manage: the description declares exactly ManageProtocol's methods and errors")
    func manage() throws {
        let interface = try VarlinkIDL.parse(ManageProtocol.idl)
        #expect(ManageProtocol.definition == interface)
        #expect(interface.name == ManageProtocol.interface)
        #expect(Set(interface.methods.keys) == Set(ManageProtocol.Method.allCases.map(\.rawValue)))
        #expect(Set(interface.errors.keys) == Set(ManageProtocol.ErrorName.allCases.map(\.rawValue)))
        for method in interface.methods.values where method.name != ManageProtocol.Method.databaseStatus.rawValue {
            // The caller's user, optional: root names one, others act on their own record.
            #expect(method.parameters.first == VarlinkIDL.Field(name: "user", type: .optional(.string)), "\(method.name)")
        }
        // About the database, not a record (root only): no parameter.
        #expect(interface.methods[ManageProtocol.Method.databaseStatus.rawValue]?.parameters == [])
        for (name, fields) in interface.errors {
            #expect(fields == [VarlinkIDL.Field(name: "message", type: .string)], "\(name)")
        }
        checkTypes(interface)
        let names: [ManageProtocol.Method: Set<String>] = VarlinkIDL.parameterNames(of: interface)
        #expect(names[.enroll] == ["user", "key", "code", "backupCodes", "phone", "phoneLabel", "phoneConfirmation", "force", "oldCode"])
        #expect(names[.status] == ["user"])
        #expect(names.count == ManageProtocol.Method.allCases.count)
    }

    @Test("io.twostep.Login: the description declares exactly LoginProtocol's methods and its error")
    func login() throws {
        let interface = try VarlinkIDL.parse(LoginProtocol.idl)
        #expect(LoginProtocol.definition == interface)
        #expect(interface.name == LoginProtocol.interface)
        #expect(Set(interface.methods.keys) == Set(LoginProtocol.Method.allCases.map(\.rawValue)))
        #expect(Array(interface.errors.keys) == [LoginProtocol.unavailableName])
        #expect(LoginProtocol.unavailable == "io.twostep.Login.Unavailable")
        checkTypes(interface)
        #expect(interface.methods["AdmitSend"] == VarlinkIDL.Method(
            name: "AdmitSend",
            parameters: [.init(name: "user", type: .string), .init(name: "number", type: .string),
                         .init(name: "limit", type: .int), .init(name: "window", type: .int)],
            reply: [.init(name: "admitted", type: .bool), .init(name: "until", type: .optional(.int))]))
    }

    @Test("qualified names and error names read back")
    func names() {
        #expect(ManageProtocol.Method.importGoogleAuthenticator.qualifiedName == "io.twostep.Manage.ImportGoogleAuthenticator")
        #expect(ManageProtocol.socketName == "io.twostep.Manage")
        #expect(LoginProtocol.Method.admitSend.qualifiedName == "io.twostep.Login.AdmitSend")
        for error in ManageProtocol.ErrorName.allCases {
            #expect(ManageProtocol.ErrorName(qualifiedName: error.qualifiedName) == error)
        }
        #expect(ManageProtocol.ErrorName(qualifiedName: "io.twostep.Login.CodeRefused") == nil)
        #expect(ManageProtocol.ErrorName(qualifiedName: "io.twostep.Manage.Nope") == nil)
        #expect(ManageProtocol.ErrorName(qualifiedName: "CodeRefused") == nil)
    }

    @Test("the IDL reader: types, optionals, arrays, maps, enums, nested structs; comments anywhere")
    func reader() throws {
        let interface = try VarlinkIDL.parse("""
            # header
            interface org.example.more-things   # trailing comment

            type Kind (one, two, three)
            type Thing (
              # a comment inside
              name: string, tags: []string, attributes: [string]?int,
              kind: Kind, inner: (x: float, y: ?(a, b)), any: object, flag: ?bool
            )
            method Do(thing: Thing, things: []Thing) -> ()
            method Nothing() -> (count: int)
            error Failed ()
            """)
        #expect(interface.name == "org.example.more-things")
        #expect(interface.types["Kind"] == .enumeration(["one", "two", "three"]))
        guard case .structure(let fields)? = interface.types["Thing"] else {
            Issue.record("Thing is not a struct")
            return
        }
        #expect(fields.map(\.name) == ["name", "tags", "attributes", "kind", "inner", "any", "flag"])
        #expect(fields[2].type == .map(.optional(.int)))
        #expect(fields[4].type == .structure([.init(name: "x", type: .float), .init(name: "y", type: .optional(.enumeration(["a", "b"])))]))
        #expect(interface.methods["Do"]?.parameters.map(\.type) == [.named("Thing"), .array(.named("Thing"))])
        #expect(interface.methods["Nothing"]?.reply == [.init(name: "count", type: .int)])
        #expect(interface.errors["Failed"] == [])
    }

    @Test("the IDL reader refuses what the grammar does not allow", arguments: [
        "", "interface", "type X (a: int)", "interface a.b\nmethod M(a: int)", "interface a.b\nmethod M(a: int) -> (b)",
        "interface a.b\nmethod M() -> ()\nmethod M() -> ()", "interface a.b\nmethod M(a: int, a: int) -> ()",
        "interface a.b\nthing X (a: int)", "interface a.b\nmethod M(a: ??int) -> ()", "interface a.b\ntype T (a, b: int)",
        "interface a.b\nmethod M(a int) -> ()", "interface a.b\nerror E (x: int",
    ])
    func refused(_ text: String) {
        #expect(throws: VarlinkIDL.ParseError.self) { try VarlinkIDL.parse(text) }
    }
}
