import Testing
import TwoStepCore

@Suite("ConstantTime and SecretBytes")
struct ConstantTimeTests {
    @Test("equal bytes compare equal, different bytes or lengths do not")
    func byteArrays() {
        #expect(ConstantTime.equal([UInt8](), []))
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [0, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equal([1, 2], [1, 2, 3]))
        #expect(!ConstantTime.equal([], [0]))
    }

    @Test("strings compare by their UTF-8 bytes")
    func strings() {
        #expect(ConstantTime.equal("123456", "123456"))
        #expect(!ConstantTime.equal("123456", "123457"))
        #expect(!ConstantTime.equal("123456", "12345"))
        #expect(ConstantTime.equal("", ""))
    }

    @Test("SecretBytes keeps its bytes and compares by content")
    func secretBytes() throws {
        let bytes = try randomBytes(32)
        let a = SecretBytes(bytes)
        #expect(a.count == 32)
        #expect(a.withUnsafeBytes { Array($0) } == bytes)
        #expect(a == SecretBytes(bytes))
        var other = bytes
        other[31] ^= 1
        #expect(a != SecretBytes(other))
        #expect(a != SecretBytes(bytes.dropLast()))
        #expect(SecretBytes([UInt8]()) == SecretBytes([UInt8]()))
        #expect(SecretBytes([UInt8]()).count == 0)
        #expect(SecretBytes([UInt8]()) != SecretBytes([0]))
    }

    @Test("cleanse overwrites with zeros")
    func cleanseZeros() {
        var bytes: [UInt8] = [1, 2, 3, 4]
        cleanse(&bytes)
        #expect(bytes == [0, 0, 0, 0])
    }
}

@Suite("SystemRandom and HMAC")
struct RandomAndHMACTests {
    @Test("bytes gives the length asked for, and different bytes each time")
    func bytes() throws {
        #expect(try SystemRandom.bytes(0).isEmpty)
        #expect(try SystemRandom.bytes(1000).count == 1000)
        #expect(try SystemRandom.bytes(32) != SystemRandom.bytes(32))
    }

    @Test("uniform stays below the bound and reaches every value")
    func uniform() throws {
        var seen = Set<UInt32>()
        for _ in 0..<2000 {
            let v = try SystemRandom.uniform(below: 31)
            #expect(v < 31)
            seen.insert(v)
        }
        #expect(seen.count == 31)
        #expect(try SystemRandom.uniform(below: 1) == 0)
    }

    @Test("RFC 2202 / RFC 4231 test case 2 (key \"Jefe\")", arguments: [
        (OTPAlgorithm.sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (.sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (.sha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
    ])
    func hmacVectors(algorithm: OTPAlgorithm, expected: String) {
        let mac = HMAC.authenticate(algorithm, key: SecretBytes(Array("Jefe".utf8)), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.count == algorithm.digestLength)
        #expect(Hex.encode(mac) == expected)
    }

    @Test("RFC 2202 / RFC 4231 test case 6 (a key longer than the hash's block)", arguments: [
        (OTPAlgorithm.sha1, 80, "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        (.sha256, 131, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (.sha512, 131, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
    ])
    func hmacLongKey(algorithm: OTPAlgorithm, keyLength: Int, expected: String) {
        let key = SecretBytes([UInt8](repeating: 0xaa, count: keyLength))
        let mac = HMAC.authenticate(algorithm, key: key, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(Hex.encode(mac) == expected)
    }

    @Test("an empty key and an empty message (buffers without an address)", arguments: [
        (OTPAlgorithm.sha1, "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d"),
        (.sha256, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
        (.sha512, "b936cee86c9f87aa5d3c6f2e84cb5a4239a5fe50480a6ec66b70ab5b1f4ac6730c6c515421b327ec1d69402e53dfb49ad7381eb067b338fd7b0cb22247225d47"),
    ])
    func hmacEmpty(algorithm: OTPAlgorithm, expected: String) {
        let mac = HMAC.authenticate(algorithm, key: UnsafeRawBufferPointer(start: nil, count: 0),
                                    message: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(Hex.encode(mac) == expected)
        #expect(Hex.encode(HMAC.authenticate(algorithm, key: SecretBytes([UInt8]()), message: [])) == expected)
    }

    @Test("several messages under one key give each message's own HMAC", arguments: OTPAlgorithm.allCases)
    func hmacSeveral(algorithm: OTPAlgorithm) throws {
        let key = SecretBytes(try SystemRandom.bytes(algorithm.digestLength))
        let messages = try SystemRandom.bytes(8 * 5)
        let all = HMAC.authenticate(algorithm, key: key, messages: messages, each: 8)
        #expect(all.count == 5 * algorithm.digestLength)
        for i in 0..<5 {
            let one = HMAC.authenticate(algorithm, key: key, message: Array(messages[(8 * i)..<(8 * i + 8)]))
            #expect(Array(all[(i * algorithm.digestLength)..<((i + 1) * algorithm.digestLength)]) == one, "message \(i)")
        }
    }

    @Test("algorithm names parse in any case")
    func algorithmNames() {
        #expect(OTPAlgorithm(name: "sha1") == .sha1)
        #expect(OTPAlgorithm(name: "Sha256") == .sha256)
        #expect(OTPAlgorithm(name: "SHA512") == .sha512)
        #expect(OTPAlgorithm(name: "MD5") == nil)
        #expect(OTPAlgorithm(name: "SHA-1") == nil)
    }
}
