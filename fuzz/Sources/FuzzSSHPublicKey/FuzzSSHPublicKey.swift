import FuzzSupport
import TwoStepCore

/// OpenSSH security keys (SSHPublicKey) and strict Base64. The first byte
/// picks what the rest is:
///   0  an authorized_keys line: what parses is an sk key whose fields are
///      in range, whose fingerprint is the reference one (Nettle SHA-256 and
///      Base64, not TwoStepCore's), and which reads the same from its blob,
///      from `TYPE BASE64`, and from its line written again;
///   1  a key blob: the same properties;
///   2  Base64: bytes encode as Nettle does and decode back; text that
///      decodes is exactly the text those bytes encode to (one text per value).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    switch input.byte() % 3 {
    case 0:
        let line = String(decoding: input.rest(), as: UTF8.self)
        guard let key = try? SSHPublicKey(authorizedKeysLine: line) else { return 0 }
        require(line.utf8.count <= SSHPublicKey.maxLineBytes, "a line over the cap parsed")
        check(key)
        require(key.options.verifyRequired == key.options.all.contains { $0.name == "verify-required" }, "verify-required flag")
        require(key.options.noTouchRequired == key.options.all.contains { $0.name == "no-touch-required" }, "no-touch-required flag")
        require(key.options.all.count <= AuthorizedKeyOptions.maxOptions, "too many options kept")
        let again = key.openSSHText + (key.comment.isEmpty ? "" : " " + key.comment)
        guard let reread = try? SSHPublicKey(authorizedKeysLine: again) else {
            require(false, "the key written again does not parse: \(again)")
            return 0
        }
        require(reread.blob == key.blob && reread.comment == key.comment, "the key written again reads differently: \(again)")
    case 1:
        let blob = input.rest()
        guard let key = try? SSHPublicKey(blob: blob) else { return 0 }
        require(key.blob == blob, "the blob was not kept whole")
        check(key)
    default:
        let bytes = input.rest()
        let encoded = Base64.encode(bytes)
        require(encoded == Reference.base64(bytes), "Base64.encode differs from Nettle")
        require((try? Base64.decode(encoded)) == bytes, "decode(encode(b)) != b")
        require(Base64.encode(bytes, padded: false) == encoded.filter { $0 != "=" }, "unpadded encoding")
        let text = String(decoding: bytes, as: UTF8.self)
        if let decoded = try? Base64.decode(text) {
            require(Base64.encode(decoded) == text, "a text that is not the canonical encoding decoded: \(text)")
        }
    }
    return 0
}

private func check(_ key: SSHPublicKey) {
    require(key.blob.count <= SSHPublicKey.maxBlobBytes, "blob over the cap")
    require(key.publicKey.count == (key.type == .sshEd25519 ? 32 : 65), "public key length \(key.publicKey.count)")
    require(key.application.hasPrefix("ssh:") && key.application.utf8.count <= SSHPublicKey.maxApplicationBytes, "application")
    require(key.fingerprint == Reference.sshFingerprint(key.blob), "fingerprint differs from the reference")
    require(key.matches(blob: key.blob) && !key.matches(blob: key.blob + [0]), "matches(blob:)")
    guard let fromBlob = try? SSHPublicKey(blob: key.blob) else {
        require(false, "the key's own blob does not parse")
        return
    }
    require(fromBlob.type == key.type && fromBlob.publicKey == key.publicKey && fromBlob.application == key.application,
            "the blob reads differently")
    let fromText = try? SSHPublicKey(type: key.type.rawValue, base64: key.base64)
    require(fromText == fromBlob, "TYPE BASE64 reads differently")
}
