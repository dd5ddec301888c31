import Testing
@testable import TwoStepCore

/// `security_keys=` (module option and twostep.conf key) and
/// `security_key_enrol=` (twostep.conf only), SPEC §11.
@Suite("security_keys= and security_key_enrol=")
struct SecurityKeyPolicyTests {
    static let path = "/etc/twostep/twostep.conf"

    static func parse(_ text: String) throws(ConfigurationError) -> SystemConfiguration {
        try SystemConfiguration(parsing: Array(text.utf8), path: path)
    }

    static func parseError(_ text: String) -> ConfigurationError? {
        do throws(ConfigurationError) {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("off and user by default")
    func defaults() throws {
        #expect(ModuleOptions().securityKeys == .off)
        #expect(try ModuleOptions(arguments: []).securityKeys == .off)
        #expect(SystemConfiguration().securityKeyEnrol == .user)
        #expect(try Self.parse("").options.securityKeys == .off)
    }

    @Test("security_keys on the pam.d line", arguments: [("off", SecurityKeyPolicy.off), ("touch", .touch), ("verify", .verify)])
    func onTheLine(_ value: String, _ expected: SecurityKeyPolicy) throws {
        #expect(try ModuleOptions(arguments: ["security_keys=\(value)"]).securityKeys == expected)
    }

    @Test("security_keys and security_key_enrol in twostep.conf")
    func inTheFile() throws {
        let c = try Self.parse("security_keys=verify\nsecurity_key_enrol=root\n")
        #expect(c.options.securityKeys == .verify)
        #expect(c.securityKeyEnrol == .root)
        #expect(try Self.parse("security_keys = touch\n").options.securityKeys == .touch)
        #expect(try Self.parse("security_key_enrol=user\n").securityKeyEnrol == .user)
    }

    @Test("the line overrides the file for that line")
    func lineOverridesFile() throws {
        let file = try Self.parse("security_keys=verify\n")
        #expect(try ModuleOptions(arguments: [], base: file.options).securityKeys == .verify)
        #expect(try ModuleOptions(arguments: ["security_keys=off"], base: file.options).securityKeys == .off)
    }

    @Test("bad values and places are errors with the usual messages", arguments: [
        ("security_keys", "option 'security_keys' needs a value (security_keys=…)"),
        ("security_keys=on", "security_keys must be off, touch or verify (got 'on')"),
        ("security_keys=Touch", "security_keys must be off, touch or verify (got 'Touch')"),
        ("security_keys=", "security_keys must be off, touch or verify (got '')"),
        ("security_key_enrol=root", "'security_key_enrol' is a key of twostep.conf, not a module option"),
        ("security_key_enrol", "'security_key_enrol' is a key of twostep.conf, not a module option"),
    ])
    func lineErrors(_ argument: String, _ message: String) {
        #expect(throws: TwoStepError.invalidParameter(message)) { try ModuleOptions(arguments: [argument]) }
    }

    @Test("security_keys given twice on the line")
    func twiceOnTheLine() {
        #expect(throws: TwoStepError.invalidParameter("option 'security_keys' is given twice")) {
            try ModuleOptions(arguments: ["security_keys=touch", "security_keys=verify"])
        }
    }

    @Test("file errors name their line", arguments: [
        ("window=1\nsecurity_keys=yes\n", 2, "security_keys must be off, touch or verify (got 'yes')"),
        ("security_key_enrol=admin\n", 1, "security_key_enrol must be user or root (got 'admin')"),
        ("security_key_enrol=\n", 1, "security_key_enrol must be user or root (got '')"),
        ("security_keys=touch\n#\nsecurity_keys=touch\n", 3, "key 'security_keys' is given twice (first on line 1)"),
        ("security_key=touch\n", 1, "unknown key 'security_key'"),
        ("security_keys_enrol=user\n", 1, "unknown key 'security_keys_enrol'"),
    ])
    func fileErrors(_ text: String, _ line: Int, _ reason: String) {
        #expect(Self.parseError(text) == .invalidLine(path: Self.path, line: line, reason: reason))
    }

    @Test("places: security_keys in both, security_key_enrol in the file only")
    func places() {
        #expect(ConfigurationKey.securityKeys.isAllowed(in: .moduleLine) && ConfigurationKey.securityKeys.isAllowed(in: .file))
        #expect(!ConfigurationKey.securityKeyEnrol.isAllowed(in: .moduleLine) && ConfigurationKey.securityKeyEnrol.isAllowed(in: .file))
        #expect(ConfigurationKey(name: "security_keys") == .securityKeys)
        #expect(ConfigurationKey(name: "security_key_enrol") == .securityKeyEnrol)
        #expect(!ConfigurationKey.securityKeys.isYesNo && !ConfigurationKey.securityKeyEnrol.isYesNo)
    }
}
