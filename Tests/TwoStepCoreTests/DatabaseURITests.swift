import Testing
@testable import TwoStepCore

// `database=` (SPEC §9, §13): a libpq connection URI with one or more
// hosts, read the way libpq reads it.

@Suite struct DatabaseURITests {
    private func hosts(_ text: String) throws -> [DatabaseHost] { try DatabaseURI(text).hosts }

    @Test func oneHostAsBefore() throws {
        let uri = try DatabaseURI("postgresql://twostep@db.example.com:5433/fleet?sslmode=verify-full&sslrootcert=/etc/ca.crt")
        #expect(uri.hosts == [DatabaseHost(name: "db.example.com", port: 5433)])
        #expect(uri.user == "twostep" && uri.database == "fleet" && uri.sslMode == .verifyFull && uri.sslRootCertificate == "/etc/ca.crt")
        #expect(uri.targetSessionAttributes == .any)
        #expect(try hosts("postgresql://db/x") == [DatabaseHost(name: "db", port: 5432)])
    }

    /// Issue 23: `h1:5432,h2:5432` is two hosts, not one named `h1:5432,h2`.
    @Test func severalHostsInOrderEachWithItsPort() throws {
        let uri = try DatabaseURI("postgresql://twostep@h1:5432,h2:5433/twostep?target_session_attrs=read-write")
        #expect(uri.hosts == [DatabaseHost(name: "h1", port: 5432), DatabaseHost(name: "h2", port: 5433)])
        #expect(uri.targetSessionAttributes == .readWrite)
        // A host without a port has the default one, as in libpq.
        #expect(try hosts("postgresql://h1:6000,h2,h3:6001/x") == [
            DatabaseHost(name: "h1", port: 6000), DatabaseHost(name: "h2", port: 5432), DatabaseHost(name: "h3", port: 6001),
        ])
    }

    @Test func ipv6InBrackets() throws {
        #expect(try hosts("postgresql://[::1]:5433,[2001:db8::7]/x") == [
            DatabaseHost(name: "::1", port: 5433), DatabaseHost(name: "2001:db8::7", port: 5432),
        ])
        #expect(try hosts("postgresql://twostep@[::1]/x") == [DatabaseHost(name: "::1", port: 5432)])
        #expect(DatabaseHost(name: "::1", port: 5433).description == "[::1]:5433")
        for bad in ["postgresql://[::1/x", "postgresql://[::1]x/x", "postgresql://[]:5432/x", "postgresql://::1]/x",
                    "postgresql://[::1]:99999/x", "postgresql://h1:,h2:abc/x"] {
            #expect(throws: DatabaseURI.Invalid.self, "\(bad)") { try DatabaseURI(bad) }
        }
    }

    @Test func hostsAndPortsAsParameters() throws {
        #expect(try hosts("postgresql:///x?host=h1,h2&port=5433") == [DatabaseHost(name: "h1", port: 5433), DatabaseHost(name: "h2", port: 5433)])
        #expect(try hosts("postgresql:///x?host=h1,h2&port=5433,5434") == [DatabaseHost(name: "h1", port: 5433), DatabaseHost(name: "h2", port: 5434)])
        #expect(try hosts("postgresql://h1,h2/x?port=6000") == [DatabaseHost(name: "h1", port: 6000), DatabaseHost(name: "h2", port: 6000)])
        #expect(throws: DatabaseURI.Invalid.self) { try DatabaseURI("postgresql:///x?host=h1,h2,h3&port=1,2") }
    }

    @Test func unixSocketHosts() throws {
        let local = try hosts("postgresql://twostep@/twostep?host=/run/postgresql")
        #expect(local == [DatabaseHost(name: "/run/postgresql", port: 5432)])
        #expect(local[0].isUnixSocket && local[0].socketPath == "/run/postgresql/.s.PGSQL.5432")
        // A socket directory %-encoded in the authority, and beside a TCP host.
        let mixed = try hosts("postgresql://%2Fvar%2Frun%2Fpostgresql,db.example:5433/x")
        #expect(mixed == [DatabaseHost(name: "/var/run/postgresql", port: 5432), DatabaseHost(name: "db.example", port: 5433)])
        #expect(mixed[0].isUnixSocket && !mixed[1].isUnixSocket)
        // No host at all: the default socket directory.
        #expect(try hosts("postgresql:///twostep") == [DatabaseHost(name: "/var/run/postgresql", port: 5432)])
        // An empty entry of a list is the default too, as in libpq.
        #expect(try hosts("postgresql:///x?host=,h2") == [DatabaseHost(name: "/var/run/postgresql"), DatabaseHost(name: "h2")])
    }

    @Test func targetSessionAttributes() throws {
        for attributes in DatabaseURI.TargetSessionAttributes.allCases {
            #expect(try DatabaseURI("postgresql://h1,h2/x?target_session_attrs=\(attributes.rawValue)").targetSessionAttributes == attributes)
        }
        for unsupported in ["read-only", "standby", "prefer-standby", "readwrite", ""] {
            #expect(throws: DatabaseURI.Invalid.self, "\(unsupported)") {
                try DatabaseURI("postgresql://h1,h2/x?target_session_attrs=\(unsupported)")
            }
        }
    }

    @Test func aPasswordIsRefusedWithSeveralHostsToo() {
        #expect(throws: DatabaseURI.Invalid.self) { try DatabaseURI("postgresql://twostep:pw@h1,h2/x") }
    }

    /// The warning names a host on another machine when any of the hosts is one.
    @Test func theTransportWarningLooksAtEveryHost() throws {
        #expect(try DatabaseURI("postgresql://127.0.0.1:5432,[::1]:5433/x?sslmode=disable").transportWarning == nil)
        let warning = try #require(try DatabaseURI("postgresql://127.0.0.1:5432,db2.example:5432/x?sslmode=require").transportWarning)
        #expect(warning.contains("db2.example"))
        #expect(try DatabaseURI("postgresql://127.0.0.1,db2.example/x?sslmode=verify-full").transportWarning == nil)
    }
}
