import Testing
@testable import TwoStepCore

@Suite struct ModuleOptionsTests {
    @Test func defaultsMatchTheSpec() throws {
        let o = try ModuleOptions(arguments: [])
        #expect(o.store == .standard)
        #expect(o.nullok == false)
        #expect(o.policy == VerificationPolicy(window: 1, maxFailures: 5, lockoutSeconds: 300))
        #expect(o.trustDays == 30)
        #expect(o.trustBy == nil)
        #expect(o.channels == "/usr/lib/twostep/channels")
        #expect(o.prompt == "Verification code: ")
        #expect(o.forwardPass == false && o.debug == false)
    }

    @Test func everyOptionIsRead() throws {
        let o = try ModuleOptions(arguments: [
            "store=/var/lib/twostep/%u", "nullok", "window=2", "trust_days=7", "trust_by=key",
            "max_failures=3", "lockout=60", "channels=/opt/ch", "exempt_rhost=10.0.0.0/8,::1",
            "debug", "prompt=Code please: ", "forward_pass",
        ])
        #expect(try o.store.path(user: "alice", home: "/home/alice") == "/var/lib/twostep/alice")
        #expect(o.nullok && o.debug && o.forwardPass)
        #expect(o.policy == VerificationPolicy(window: 2, maxFailures: 3, lockoutSeconds: 60))
        #expect(o.trustDays == 7 && o.trustBy == .key)
        #expect(o.channels == "/opt/ch")
        #expect(o.exemptRemoteHosts.count == 2)
        #expect(o.prompt == "Code please: ")
    }

    @Test(arguments: [
        "bogus", "nullok=1", "window", "window=abc", "window=-1", "window=11", "trust_days=99999",
        "trust_by=ip", "max_failures=0", "lockout=1e3", "channels=relative", "exempt_rhost=10.0.0.0/33",
        "exempt_rhost=host.example", "exempt_rhost=", "store=relative/%u", "store=/x/%z", "prompt=",
    ])
    func malformedOptionsAreErrors(_ argument: String) {
        #expect(throws: TwoStepError.self) { try ModuleOptions(arguments: [argument]) }
    }

    @Test func aRepeatedOptionIsAnError() {
        #expect(throws: TwoStepError.self) { try ModuleOptions(arguments: ["window=1", "window=2"]) }
    }
}

@Suite struct StorePathTemplateTests {
    @Test func expandsUserAndHome() throws {
        #expect(try StorePathTemplate.standard.path(user: "bob", home: "/home/bob") == "/home/bob/.twostep")
        #expect(try StorePathTemplate("/srv/%u/%%x").path(user: "bob", home: "/h") == "/srv/bob/%x")
    }

    @Test func refusesEscapes() throws {
        #expect(throws: TwoStepError.self) { try StorePathTemplate("/srv/%u").path(user: "..", home: "/h") }
        #expect(throws: TwoStepError.self) { try StorePathTemplate("/srv/%u").path(user: "a/b", home: "/h") }
        #expect(throws: TwoStepError.self) { try StorePathTemplate.standard.path(user: "bob", home: "relative") }
        #expect(throws: TwoStepError.self) { try StorePathTemplate.standard.path(user: "bob", home: "/home/../etc") }
        #expect(throws: TwoStepError.self) { try StorePathTemplate("%h/x").path(user: "bob", home: "/home/..") }
        #expect(throws: TwoStepError.self) { try StorePathTemplate("/srv/%u/../x").path(user: "bob", home: "/h") }
    }

    @Test func pathsAreCheckedAsTheKernelReadsThem() throws {
        // "/" and a combining mark are one Character but two components to
        // the kernel: the ".." before it is a real parent directory.
        #expect(throws: TwoStepError.self) { try StorePathTemplate.standard.path(user: "bob", home: "/home/../\u{301}x") }
        // And a home that starts with "/" and a combining mark is absolute.
        #expect(try StorePathTemplate.standard.path(user: "bob", home: "/\u{618}h") == "/\u{618}h/.twostep")
    }

    @Test func dotsInsideANameAreNotAnEscape() throws {
        #expect(try StorePathTemplate("/srv/%u/..x").path(user: "a..b", home: "/h") == "/srv/a..b/..x")
        #expect(try StorePathTemplate("%h/...").path(user: "bob", home: "/home/bob..") == "/home/bob../...")
        #expect(try StorePathTemplate("/srv/%u").path(user: ".hidden", home: "/h") == "/srv/.hidden")
    }
}

@Suite struct CIDRTests {
    @Test func ipv4Networks() throws {
        let net = try CIDR(parsing: "192.0.2.0/24")
        #expect(net.contains("192.0.2.0") && net.contains("192.0.2.255"))
        #expect(!net.contains("192.0.3.1") && !net.contains("host.example") && !net.contains(""))
        #expect(net.contains("::ffff:192.0.2.9"))
        #expect(try CIDR(parsing: "10.1.2.3").contains("10.1.2.3"))
        #expect(!(try CIDR(parsing: "10.1.2.3")).contains("10.1.2.4"))
        #expect(try CIDR(parsing: "0.0.0.0/0").contains("203.0.113.5"))
        #expect(try CIDR(parsing: "10.0.0.0/9").contains("10.127.0.1"))
        #expect(!(try CIDR(parsing: "10.0.0.0/9")).contains("10.128.0.1"))
    }

    @Test func ipv6Networks() throws {
        let net = try CIDR(parsing: "2001:db8::/32")
        #expect(net.contains("2001:db8::1") && net.contains("2001:0db8:ffff::"))
        #expect(!net.contains("2001:db9::1") && !net.contains("192.0.2.1"))
        #expect(try CIDR(parsing: "::1").contains("::1"))
        #expect(try CIDR(parsing: "fe80::/10").contains("fe80::1%eth0"))
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4/", "1.2.3.4/x", "::1/129", "1:::2", "g::1", "1:2:3:4:5:6:7:8:9"])
    func malformed(_ text: String) {
        #expect(throws: TwoStepError.self) { try CIDR(parsing: text) }
    }
}

@Suite struct TrustPolicyTests {
    let now: Int64 = 1_800_000_000
    let ssh = Device(service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil)

    @Test func aNewRecordLetsTheSameDeviceIn() {
        let policy = TrustPolicy(trustDays: 30, trustBy: nil)
        let file = policy.trust(ssh, in: FactorFile(), at: now)
        #expect(file.trustedDevices.count == 1)
        #expect(policy.trustedRecord(in: file, for: ssh, at: now + 100) != nil)
        #expect(policy.trustedRecord(in: file, for: ssh, at: now + 30 * 86_400) == nil)
        var other = ssh
        other.remoteHost = "192.0.2.8"
        #expect(policy.trustedRecord(in: file, for: other, at: now) == nil)
        var sudo = ssh
        sudo.service = "sudo"
        #expect(policy.trustedRecord(in: file, for: sudo, at: now) == nil)
    }

    @Test func trustDaysCapsWhateverTheFileSays() {
        var file = FactorFile()
        file.trustedDevices.append(TrustedDevice(id: "trust-1", service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: nil,
                                                 created: now - 40 * 86_400, expires: now + 1000 * 86_400))
        #expect(TrustPolicy(trustDays: 30, trustBy: nil).trustedRecord(in: file, for: ssh, at: now) == nil)
        #expect(TrustPolicy(trustDays: 60, trustBy: nil).trustedRecord(in: file, for: ssh, at: now) != nil)
        #expect(TrustPolicy(trustDays: 0, trustBy: nil).trustedRecord(in: file, for: ssh, at: now) == nil)
        // a record from the future counts for nothing
        file.trustedDevices[0].created = now + 10
        #expect(TrustPolicy(trustDays: 60, trustBy: nil).trustedRecord(in: file, for: ssh, at: now) == nil)
    }

    @Test func keyAndBothModes() {
        let keyed = Device(service: "sshd", remoteHost: "192.0.2.7", keyFingerprint: "SHA256:abc")
        let auto = TrustPolicy(trustDays: 30, trustBy: nil)
        #expect(auto.mode(for: keyed) == .both)
        let file = auto.trust(keyed, in: FactorFile(), at: now)
        #expect(file.trustedDevices[0].keyFingerprint == "SHA256:abc" && file.trustedDevices[0].remoteHost == "192.0.2.7")
        var otherKey = keyed
        otherKey.keyFingerprint = "SHA256:xyz"
        #expect(auto.trustedRecord(in: file, for: otherKey, at: now) == nil)
        #expect(auto.trustedRecord(in: file, for: keyed, at: now) != nil)
        // key only: the host may change
        let byKey = TrustPolicy(trustDays: 30, trustBy: .key)
        let keyFile = byKey.trust(keyed, in: FactorFile(), at: now)
        #expect(keyFile.trustedDevices[0].remoteHost == nil)
        var moved = keyed
        moved.remoteHost = "198.51.100.1"
        #expect(byKey.trustedRecord(in: keyFile, for: moved, at: now) != nil)
        // a local login without a key cannot be trusted by rhost
        let local = Device(service: "login", remoteHost: nil, keyFingerprint: nil)
        #expect(!auto.canTrust(local))
    }

    @Test func deviceKeyFingerprintMatchesOpenSSH() throws {
        // `ssh-keygen -lf` of this ed25519 public key prints SHA256:RzhFZ4Gi6XnM3pQqHXvPUa/EPPMr2Fmz7KyTMHtJ7Xc
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIBJj7MSQ0TOP4ZqjE4RaKj0CNUSB+zHDDr8mNqZqhQy8"
        let info = try SSHAuthInfo(parsing: "publickey ssh-ed25519 \(blob)\n")
        let device = Device(service: "sshd", remoteHost: "192.0.2.7", authInfo: info)
        #expect(device.keyFingerprint == "SHA256:RzhFZ4Gi6XnM3pQqHXvPUa/EPPMr2Fmz7KyTMHtJ7Xc")
        #expect(Device(service: "sshd", remoteHost: nil, authInfo: try SSHAuthInfo(parsing: "")).keyFingerprint == nil)
        #expect(Device(service: "sshd", remoteHost: nil, authInfo: try SSHAuthInfo(parsing: "keyboard-interactive\n")).keyFingerprint == nil)
        #expect(Device(service: "sshd", remoteHost: nil, authInfo: nil).keyFingerprint == nil)
    }

    @Test("the trusted device's key is the last completed publickey method's")
    func deviceKeyIsTheLastPublicKey() throws {
        let first = "AAAAC3NzaC1lZDI1NTE5AAAAIBJj7MSQ0TOP4ZqjE4RaKj0CNUSB+zHDDr8mNqZqhQy8"
        let second = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        let info = try SSHAuthInfo(parsing: "publickey ssh-ed25519 \(first)\npublickey ssh-ed25519 \(second)\n")
        #expect(Device(service: "sshd", remoteHost: nil, authInfo: info).keyFingerprint
            == SSHPublicKey.fingerprint(blob: try Base64.decode(Array(second.utf8)[...])))
    }

    @Test("a value sshd would not write gives no key: the strict parser is the only one", arguments: [
        "publickey ssh-ed25519 !!!!\n", "publickey ssh-ed25519 AA=A\n", "publickey ssh-ed25519 AAAA\n",
        "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBJj7MSQ0TOP4ZqjE4RaKj0CNUSB+zHDDr8mNqZqhQy8",
        "publickey  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBJj7MSQ0TOP4ZqjE4RaKj0CNUSB+zHDDr8mNqZqhQy8\n",
        "publickey ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBJj7MSQ0TOP4ZqjE4RaKj0CNUSB+zHDDr8mNqZqhQy8\n",
    ])
    func deviceKeyRefusesMalformedAuthInfo(value: String) {
        guard case .failure = SecurityKeyLogin.read(value) else {
            Issue.record("\(value) parsed")
            return
        }
    }

    @Test func keyFingerprintOfShortBlobs() {
        // SHA-256 of one and of two zero bytes, in unpadded Base64 (as ssh-keygen prints it)
        #expect(SSHPublicKey.fingerprint(blob: [0]) == "SHA256:bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0")
        #expect(SSHPublicKey.fingerprint(blob: [0, 0]) == "SHA256:lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c")
    }
}
