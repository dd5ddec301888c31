import Testing
import TwoStepCore

@Suite struct AuthorizedKeysFileTests {
    @Test func aWholeFile() throws {
        let text = "# keys\n\n" + SKFixtures.plainEd25519 + "\n"
            + "verify-required " + SKFixtures.ed25519VerifyRequired.line + "\r\n"
            + "   \n" + SKFixtures.rsa + "\n" + "no-touch-required " + SKFixtures.ecdsaTouch.line + "\n"
            + "sk-ssh-ed25519@openssh.com AAAA broken\n"
        let entries = try AuthorizedKeysFile.entries(text)
        #expect(entries.map(\.line) == [3, 4, 6, 7, 8])
        #expect(entries[0].key == .failure(.notASecurityKey(type: "ssh-ed25519")))
        #expect(entries[2].key == .failure(.notASecurityKey(type: "ssh-rsa")))
        guard case .failure(.truncatedBlob) = entries[4].key else { Issue.record("\(entries[4])"); return }
        let keys = try AuthorizedKeysFile.securityKeys(text)
        #expect(keys.map(\.fingerprint) == [SKFixtures.ed25519VerifyRequired.fingerprint, SKFixtures.ecdsaTouch.fingerprint])
        #expect(keys[0].options.verifyRequired && keys[1].options.noTouchRequired)
        #expect(try AuthorizedKeysFile.entries("").isEmpty)
        let huge = String(repeating: "#\n", count: 600_000)
        #expect(skError { () throws(SecurityKeyError) in try AuthorizedKeysFile.entries(huge) }
            == .fileTooLong(bytes: 1_200_000, limit: 1024 * 1024))
    }
}
