import Testing
@testable import TwoStepCore

// twostep.conf (SPEC §7): the parser, its errors with their lines, the one
// table of names shared with the pam.d line, and the merge of the two.

private let path = "/etc/twostep/twostep.conf"

private func parse(_ text: String) throws(ConfigurationError) -> SystemConfiguration {
    try SystemConfiguration(parsing: Array(text.utf8), path: path)
}

/// The error parsing `text` throws, nil when it parses.
private func parseError(_ text: String) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct SystemConfigurationTests {
    @Test func defaults() {
        let c = SystemConfiguration()
        #expect(c.options == ModuleOptions())
        #expect(c.options.socketDirectory == "/run/twostep")
        #expect(c.selfEnroll == true)
        #expect(c.backend == .file && c.database == nil && c.databasePasswordFile == nil)
        #expect(c.databaseTimeout == 2)
        #expect(c.offline == .deny && c.offlineMaxAge == 86_400)
        #expect(SystemConfiguration.defaultPath == "/etc/twostep/twostep.conf")
    }

    @Test(arguments: ["", "\n", "# only a comment\n", "   \n\t\n", "  # indented comment\n\n#x=y"])
    func emptyOrCommentsOnlyIsTheDefaults(_ text: String) throws {
        #expect(try parse(text) == SystemConfiguration())
    }

    @Test func thePostgreSQLBackendNeedsTheDaemonStore() {
        let error = parseError("store=/var/lib/twostep/%u\nbackend=postgresql\ndatabase=postgresql://twostep@db/twostep\n")
        #expect(error == .invalidLine(path: "/etc/twostep/twostep.conf", line: 2,
                                      reason: "backend=postgresql needs store=twostepd (the records are in the database, not in files)"))
    }

    @Test func everyKeyIsRead() throws {
        let c = try parse("""
            # the administrator's settings
            store=twostepd
            nullok=yes
            window=2
            trust_days=7
            trust_by=key
            max_failures=3
            lockout=900
            channels=/opt/channels
            send_limit=5
            send_window=3600
            exempt_rhost=192.0.2.0/24,2001:db8::/32
            prompt="Your code: "
            debug=yes
            forward_pass=yes
            socket_dir=/run/twostep-test
            self_enroll=no
            backend=postgresql
            database=postgresql://twostep@db.example:5432/twostep?sslmode=verify-full
            database_password_file=/etc/twostep/database-password
            database_timeout=5
            offline=cached
            offline_max_age=3600
            """)
        let o = c.options
        #expect(o.store == .daemon && o.store.isDaemon)
        #expect(o.nullok && o.debug && o.forwardPass)
        #expect(o.policy == VerificationPolicy(window: 2, maxFailures: 3, lockoutSeconds: 900))
        #expect(o.trustDays == 7 && o.trustBy == .key)
        #expect(o.channels == "/opt/channels")
        #expect(o.sendPolicy == SendPolicy(limit: 5, window: 3600))
        #expect(o.exemptRemoteHosts == [try CIDR(parsing: "192.0.2.0/24"), try CIDR(parsing: "2001:db8::/32")])
        #expect(o.prompt == "Your code: ")
        #expect(o.socketDirectory == "/run/twostep-test")
        #expect(c.selfEnroll == false)
        #expect(c.backend == .postgresql)
        #expect(c.database == "postgresql://twostep@db.example:5432/twostep?sslmode=verify-full")
        #expect(c.databasePasswordFile == "/etc/twostep/database-password")
        #expect(c.databaseTimeout == 5)
        #expect(c.offline == .cached && c.offlineMaxAge == 3600)
    }

    @Test func yesNoKeysTakeBoth() throws {
        for key in ConfigurationKey.allCases where key.isYesNo && key.isAllowed(in: .file) {
            let on = try parse("\(key.text)=yes\n"), off = try parse("\(key.text)=no\n")
            #expect(on != off, "\(key.text)")
        }
        #expect(try parse("nullok=no").options.nullok == false)
        #expect(try parse("self_enroll=yes").selfEnroll == true)
        #expect(try parse("trust_by=rhost").options.trustBy == .rhost)
        #expect(try parse("trust_by=both").options.trustBy == .both)
        #expect(try parse("backend=file").backend == .file)
        #expect(try parse("offline=deny").offline == .deny)
        #expect(try parse("database=postgres://h/db").database == "postgres://h/db")
    }

    @Test func spacesAroundKeyAndValueAreDropped() throws {
        let c = try parse("  window =  2 \t\n\tmax_failures\t=\t4\nprompt = Code please:  \n")
        #expect(c.options.policy.window == 2 && c.options.policy.maxFailures == 4)
        #expect(c.options.prompt == "Code please:")
        #expect(try parse("prompt=\"  spaced  \"").options.prompt == "  spaced  ")
        // Only the outer quotes go; a '#' inside a value is part of it.
        #expect(try parse("prompt=\"say \"hi\": \"").options.prompt == "say \"hi\": ")
        #expect(try parse("prompt=Code #1: ").options.prompt == "Code #1:")
        // An '=' in the value belongs to it.
        #expect(try parse("prompt=a=b").options.prompt == "a=b")
    }

    @Test func theLastLineNeedsNoNewline() throws {
        #expect(try parse("window=3").options.policy.window == 3)
        #expect(try parse("# c\nwindow=3").options.policy.window == 3)
    }

    @Test func theThreeInitialisersAgree() throws {
        let text = "window=4\nlockout=60\n"
        let a = try parse(text)
        let b = try SystemConfiguration(parsing: text.utf8, path: path)
        let c = try SystemConfiguration(parsing: Array(text.utf8)[...], path: path)
        let d = try Array(text.utf8).withUnsafeBufferPointer { try SystemConfiguration(parsing: $0, path: path) }
        #expect(a == b && b == c && c == d)
        #expect(a.options.policy.window == 4 && a.options.policy.lockoutSeconds == 60)
    }

    @Test func theDescriptionNamesFileAndLine() {
        let text = "# twostep.conf\n\nstore=/var/lib/twostep/%u\n# comment\n\nwindow=1\nwindw=2\n"
        let error = parseError(text)
        #expect(error == .invalidLine(path: path, line: 7, reason: "unknown key 'windw'"))
        #expect(error?.description == "/etc/twostep/twostep.conf:7: unknown key 'windw'")
        #expect(error?.line == 7 && error?.path == path)
    }

    @Test func aKeyTwiceNamesBothLines() {
        let error = parseError("window=1\n# again\nwindow=1\n")
        #expect(error == .invalidLine(path: path, line: 3, reason: "key 'window' is given twice (first on line 1)"))
        #expect(parseError("nullok=yes\nnullok=no\n")?.line == 2)
        #expect(parseError("database=postgres://a/b\ndatabase=postgres://a/b\n")?.line == 2)
    }

    /// (file text, line of the error, part of its reason)
    @Test(arguments: [
        ("window=1\nbogus\n", 2, "no '=' (lines are key=value)"),
        ("nullok\n", 1, "'nullok' needs a value: nullok=yes or nullok=no"),
        ("\n\ndebug\n", 3, "'debug' needs a value"),
        ("=2\n", 1, "no key before '='"),
        (" = \n", 1, "no key before '='"),
        ("Window=1\n", 1, "unknown key 'Window'"),
        ("window=1\nwindow_=2\n", 2, "unknown key 'window_'"),
        ("config=/etc/other.conf\n", 1, "'config' is a pam.d option, not a key of this file"),
        ("window=11\n", 1, "window must be a whole number from 0 to 10 (got '11')"),
        ("window=\n", 1, "window must be a whole number from 0 to 10 (got '')"),
        ("window=-1\n", 1, "window must be a whole number"),
        ("window=1 2\n", 1, "window must be a whole number"),
        ("window=99999999999999999999\n", 1, "window must be a whole number"),
        ("trust_days=3651\n", 1, "trust_days must be a whole number from 0 to 3650"),
        ("trust_by=ip\n", 1, "trust_by must be rhost, key or both (got 'ip')"),
        ("max_failures=0\n", 1, "max_failures must be a whole number from 1 to 1000"),
        ("lockout=604801\n", 1, "lockout must be a whole number from 0 to 604800"),
        ("channels=relative/dir\n", 1, "channels must be an absolute directory"),
        ("send_limit=101\n", 1, "send_limit must be a whole number from 1 to 100"),
        ("send_window=59\n", 1, "send_window must be a whole number from 60 to 86400"),
        ("exempt_rhost=10.0.0.0/33\n", 1, "the prefix length must be 0 to 32"),
        ("exempt_rhost=\n", 1, "is not an IPv4 or IPv6 address"),
        ("exempt_rhost=10.0.0.0/8,,::1\n", 1, "is not an IPv4 or IPv6 address"),
        ("store=relative/%u\n", 1, "must be absolute or start with %h"),
        ("store=/x/%z\n", 1, "only %u, %h and %% may follow %"),
        ("prompt=\n", 1, "prompt must be printable text"),
        ("prompt=\"\"\n", 1, "prompt must be printable text"),
        ("prompt=\"Code: \n", 1, "the value of 'prompt' starts with '\"' but does not end with one"),
        ("prompt=\"\n", 1, "starts with '\"' but does not end with one"),
        ("nullok=1\n", 1, "nullok must be yes or no (got '1')"),
        ("debug=YES\n", 1, "debug must be yes or no (got 'YES')"),
        ("forward_pass=true\n", 1, "forward_pass must be yes or no"),
        ("self_enroll=\n", 1, "self_enroll must be yes or no (got '')"),
        ("socket_dir=run/twostep\n", 1, "socket_dir must be an absolute directory"),
        ("backend=mysql\n", 1, "backend must be file or postgresql (got 'mysql')"),
        ("database=mysql://h/db\n", 1, "database must be a postgresql:// or postgres:// URI"),
        ("database=postgresql://\n", 1, "printable characters without spaces"),
        ("database=postgresql://h/d b\n", 1, "printable characters without spaces"),
        ("database_password_file=secret.txt\n", 1, "database_password_file must be an absolute file"),
        ("database_timeout=0\n", 1, "database_timeout must be a whole number from 1 to 60"),
        ("database_timeout=61\n", 1, "database_timeout must be a whole number from 1 to 60"),
        ("offline=allow\n", 1, "offline must be deny or cached (got 'allow')"),
        ("offline_max_age=0\n", 1, "offline_max_age must be a whole number from 1 to 2592000"),
        ("offline_max_age=2592001\n", 1, "offline_max_age must be a whole number from 1 to 2592000"),
        ("window=1\r\n", 1, "a carriage return (the file has DOS line endings?)"),
        ("# fine\nprompt=a\u{7}b\n", 2, "a control character (byte 7)"),
        ("window=1\n\u{0}\n", 2, "a control character (byte 0)"),
        ("window=1\n\u{7f}\n", 2, "a control character (byte 127)"),
        ("\r\n", 1, "a carriage return"),
    ])
    func errorsNameTheirLine(_ text: String, _ line: Int, _ reason: String) {
        let error = parseError(text)
        guard case .invalidLine(let p, let l, let r)? = error else {
            Issue.record("expected an invalid line, got \(String(describing: error)) for \(text.debugDescription)")
            return
        }
        #expect(p == path)
        #expect(l == line, "\(text.debugDescription): \(r)")
        #expect(r.contains(reason), "\(text.debugDescription): \(r)")
    }

    @Test func commentsAreNotRead() throws {
        var bytes = Array("# caf".utf8) + [0xc3, 0x07, 0x0d] + Array("\n  # \u{7f}\nwindow=2\n".utf8)
        #expect(try SystemConfiguration(parsing: bytes, path: path).options.policy.window == 2)
        bytes += [0x23, 0xff, 0x0a]
        #expect(try SystemConfiguration(parsing: bytes, path: path).options.policy.window == 2)
    }

    @Test func bytesThatAreNotUTF8() throws {
        var bytes = Array("window=1\nprompt=caf".utf8)
        bytes += [0xc3]  // a lone lead byte
        bytes += Array("\nwindow=2\n".utf8)
        #expect(throws: ConfigurationError.invalidLine(path: path, line: 2, reason: "not UTF-8 text")) {
            try SystemConfiguration(parsing: bytes, path: path)
        }
        // UTF-8 is fine in a value.
        #expect(try parse("# café\nprompt=Código: ").options.prompt == "Código:")
    }

    @Test func postgresqlNeedsADatabase() {
        let error = parseError("# fleet\nself_enroll=no\nbackend=postgresql\noffline=cached\n")
        #expect(error == .invalidLine(path: path, line: 3, reason: "backend=postgresql needs database=URI"))
    }

    @Test func databaseKeysWithTheFileBackendAreAccepted() throws {
        let c = try parse("database=postgresql://db/twostep\ndatabase_timeout=10\n")
        #expect(c.backend == .file && c.database == "postgresql://db/twostep" && c.databaseTimeout == 10)
    }

    @Test(arguments: [
        "postgresql://db.example/twostep",
        "postgres://twostep@db.example:5432/twostep",
        "postgresql://twostep@[2001:db8::1]:5432/twostep?sslmode=verify-full&connect_timeout=2",
        "postgresql:///twostep?host=/run/postgresql",
        "postgresql://user%40corp@db/x",
        "postgresql://db/x?passfile=/root/.pgpass",
        "postgresql://db/x?passwords=1&xpassword=2&pass=3",
    ])
    func databaseURIsAccepted(_ uri: String) throws {
        #expect(try parse("database=\(uri)\n").database == uri)
    }

    @Test(arguments: [
        "postgresql://twostep:hunter2@db.example/twostep",
        "postgres://:hunter2@db/x",
        "postgresql://db/x?password=hunter2",
        "postgresql://db/x?sslmode=require&PASSWORD=hunter2",
        "postgresql://db/x?password",
        "postgresql://db/x?pass%77ord=hunter2",
        "postgresql://db/x?%50ASSWORD=hunter2",
        "postgresql://db/x?a=1#&password=hunter2",
    ])
    func aPasswordInTheURIIsRefusedAndNeverRepeated(_ uri: String) {
        let error = parseError("backend=postgresql\ndatabase=\(uri)\n")
        #expect(error?.line == 2)
        #expect(error?.description.contains("database must not hold a password") == true, "\(String(describing: error))")
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func aBadURIIsNotRepeatedEither() {
        let error = parseError("database=mysql://root:hunter2@db/x\n")
        #expect(error?.description.contains("hunter2") == false)
    }
}

@Suite struct ConfigurationKeyTests {
    @Test func everyNameIsFoundAndUnique() {
        var names = Set<String>()
        for key in ConfigurationKey.allCases {
            #expect(ConfigurationKey(name: key.text) == key)
            names.insert(key.text)
        }
        #expect(names.count == ConfigurationKey.allCases.count)
        #expect(ConfigurationKey.allCases.count <= 32, "the keys seen are a UInt32 bit mask")
        #expect(ConfigurationKey(name: "") == nil && ConfigurationKey(name: "windows") == nil && ConfigurationKey(name: "STORE") == nil)
    }

    /// A name with any one byte changed is not that key (the lookup picks
    /// a candidate by length and one byte, then compares them all).
    @Test func nearMissesAreUnknown() {
        for key in ConfigurationKey.allCases {
            let name = Array(key.text.utf8)
            for i in name.indices {
                var other = name
                other[i] = other[i] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
                #expect(ConfigurationKey(name: String(decoding: other, as: UTF8.self)) == nil, "\(key.text) at \(i)")
            }
            #expect(ConfigurationKey(name: key.text + "x") == nil && ConfigurationKey(name: String(key.text.dropLast())) == nil)
        }
    }

    @Test func places() {
        #expect(ConfigurationKey.config.isAllowed(in: .moduleLine) && !ConfigurationKey.config.isAllowed(in: .file))
        #expect(ConfigurationKey.socketDir.isAllowed(in: .moduleLine) && ConfigurationKey.socketDir.isAllowed(in: .file))
        for key: ConfigurationKey in [.selfEnroll, .backend, .database, .databasePasswordFile, .databaseTimeout, .offline, .offlineMaxAge,
                                      .securityKeyEnrol] {
            #expect(key.isAllowed(in: .file) && !key.isAllowed(in: .moduleLine), "\(key.text)")
        }
    }

    /// Every module option of the pam.d line is a key of the file.
    @Test func theModuleOptionsAreFileKeys() throws {
        let line = ["store=/srv/%u", "nullok", "window=3", "trust_days=1", "trust_by=rhost", "max_failures=9", "lockout=5",
                    "channels=/c", "send_limit=2", "send_window=120", "exempt_rhost=::1", "prompt=P", "debug",
                    "forward_pass", "socket_dir=/s", "security_keys=verify"]
        let fromLine = try ModuleOptions(arguments: line)
        let file = line.map { $0.contains("=") ? $0 : $0 + "=yes" }.joined(separator: "\n")
        #expect(try parse(file).options == fromLine)
    }
}

@Suite struct ModuleOptionsMergeTests {
    @Test func theLineOverridesTheFile() throws {
        let file = try parse("store=/var/lib/twostep/%u\nwindow=2\nmax_failures=3\nnullok=yes\nexempt_rhost=10.0.0.0/8,::1\n")
        let o = try ModuleOptions(arguments: ["window=0", "exempt_rhost=192.0.2.1", "debug"], base: file.options)
        #expect(o.store == file.options.store, "not on the line: the file's value")
        #expect(o.policy.maxFailures == 3)
        #expect(o.policy.window == 0)
        #expect(o.nullok, "the file's nullok stays")
        #expect(o.debug, "a bare flag on the line turns it on")
        #expect(o.exemptRemoteHosts == [try CIDR(parsing: "192.0.2.1")], "the line's list replaces the file's")
        #expect(try ModuleOptions(arguments: [], base: file.options) == file.options)
        #expect(try ModuleOptions(arguments: ["nullok"], base: ModuleOptions()).nullok)
    }

    @Test func aKeyInTheFileAndOnTheLineIsNoDuplicate() throws {
        let file = try parse("window=2\n")
        #expect(try ModuleOptions(arguments: ["window=5"], base: file.options).policy.window == 5)
        #expect(throws: TwoStepError.invalidParameter("option 'window' is given twice")) {
            try ModuleOptions(arguments: ["window=5", "window=5"], base: file.options)
        }
        #expect(throws: TwoStepError.invalidParameter("option 'nullok' is given twice")) {
            try ModuleOptions(arguments: ["nullok", "nullok"])
        }
    }

    @Test(arguments: [
        ("self_enroll=no", "'self_enroll' is a key of twostep.conf, not a module option"),
        ("backend=file", "'backend' is a key of twostep.conf, not a module option"),
        ("database=postgres://h/d", "'database' is a key of twostep.conf, not a module option"),
        ("offline", "'offline' is a key of twostep.conf, not a module option"),
        ("windw=1", "unknown option 'windw=1'"),
        ("window", "option 'window' needs a value (window=…)"),
        ("nullok=1", "option 'nullok' takes no value on a pam.d line (nullok=yes|no is for twostep.conf)"),
        ("nullok=yes", "option 'nullok' takes no value on a pam.d line (nullok=yes|no is for twostep.conf)"),
        ("debug=no", "option 'debug' takes no value on a pam.d line (debug=yes|no is for twostep.conf)"),
        ("socket_dir=relative", "socket_dir must be an absolute directory (got 'relative')"),
        ("config=relative.conf", "config must be an absolute file (got 'relative.conf')"),
        ("config", "option 'config' needs a value (config=…)"),
    ])
    func lineErrors(_ argument: String, _ message: String) {
        #expect(throws: TwoStepError.invalidParameter(message)) { try ModuleOptions(arguments: [argument]) }
    }

    @Test func theConfigurationFileOption() throws {
        #expect(try ModuleOptions.configurationFile(in: []) == nil)
        #expect(try ModuleOptions.configurationFile(in: ["nullok", "window=2"]) == nil)
        #expect(try ModuleOptions.configurationFile(in: ["nullok", "config=/etc/twostep/sshd.conf", "window=2"]) == "/etc/twostep/sshd.conf")
        // Found whatever else the line holds: the line is checked afterwards.
        #expect(try ModuleOptions.configurationFile(in: ["bogus", "config=/x.conf"]) == "/x.conf")
        #expect(throws: TwoStepError.invalidParameter("option 'config' is given twice")) {
            try ModuleOptions.configurationFile(in: ["config=/a", "config=/a"])
        }
        #expect(throws: TwoStepError.self) { try ModuleOptions.configurationFile(in: ["config=a.conf"]) }
        #expect(throws: TwoStepError.self) { try ModuleOptions.configurationFile(in: ["config"]) }
        #expect(throws: TwoStepError.self) { try ModuleOptions.configurationFile(in: ["config="]) }
        // The option itself is accepted on the line (and changes no option).
        #expect(try ModuleOptions(arguments: ["config=/x.conf"]) == ModuleOptions())
        #expect(throws: TwoStepError.self) { try ModuleOptions(arguments: ["config=/a", "config=/b"]) }
    }

    @Test func setOneOption() throws {
        var o = ModuleOptions()
        try o.set(name: "window", value: "4")
        try o.set(name: "debug", value: nil)
        try o.set(name: "nullok", value: "yes")
        try o.set(name: "socket_dir", value: "/tmp/s")
        #expect(o.policy.window == 4 && o.debug && o.nullok && o.socketDirectory == "/tmp/s")
        try o.set(name: "nullok", value: "no")
        #expect(!o.nullok)
        #expect(throws: TwoStepError.self) { try o.set(name: "window", value: nil) }
        #expect(throws: TwoStepError.self) { try o.set(name: "windw", value: "1") }
        #expect(throws: TwoStepError.self) { try o.set(name: "backend", value: "file") }
        #expect(throws: TwoStepError.self) { try o.set(name: "config", value: "/x.conf") }
        #expect(throws: TwoStepError.self) { try o.set(name: "nullok", value: "1") }
    }
}

/// Issue 19: a database on another host reached without a checked certificate is warned about.
@Suite struct DatabaseTransportWarningTests {
    private func warning(_ uri: String) throws -> String? { try DatabaseURI(uri).transportWarning }

    @Test func aRemoteHostWithoutVerificationIsWarnedAbout() throws {
        for mode in ["", "?sslmode=disable", "?sslmode=allow", "?sslmode=prefer", "?sslmode=require"] {
            let text = try #require(try warning("postgresql://twostep@db.example.com/twostep" + mode), "\(mode)")
            #expect(text.contains("db.example.com") && text.contains("verify-full"))
        }
        #expect(try warning("postgresql://twostep@192.0.2.10:5432/twostep?sslmode=require") != nil)
        #expect(try warning("postgresql://twostep@[2001:db8::1]/twostep") != nil)
        #expect(try warning("postgresql://twostep@128.0.0.1/twostep") != nil)
    }

    @Test func verifiedOrLocalIsNot() throws {
        #expect(try warning("postgresql://twostep@db.example.com/twostep?sslmode=verify-full") == nil)
        #expect(try warning("postgresql://twostep@db.example.com/twostep?sslmode=verify-ca") == nil)
        for local in ["postgresql://twostep@127.0.0.1/twostep?sslmode=disable", "postgresql://twostep@127.3.4.5/twostep",
                      "postgresql://twostep@localhost/twostep", "postgresql://twostep@LOCALHOST/twostep",
                      "postgresql://twostep@[::1]:5433/twostep", "postgresql:///twostep", "postgresql://twostep@/twostep?host=/run/postgresql"] {
            #expect(try warning(local) == nil, "\(local)")
        }
    }

    @Test func theConfigurationSaysItOnlyForThePostgresqlBackend() throws {
        let remote = "database=postgresql://twostep@db.example.com/twostep?sslmode=require\n"
        #expect(try parse("store=twostepd\nbackend=postgresql\n" + remote).databaseWarning != nil)
        #expect(try parse(remote).databaseWarning == nil)
    }
}
