import FuzzSupport
import TwoStepCore

/// SSH_AUTH_INFO_0 values (SSHAuthInfo), as sshd puts them into the PAM
/// environment: never a crash; what parses is exactly the text its methods
/// write back (so nothing odd was skipped over), within the caps, and every
/// security key it yields reads again from its own blob.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let text = String(decoding: input.rest(), as: UTF8.self)
    guard let info = try? SSHAuthInfo(parsing: text) else { return 0 }
    require(text.utf8.count <= SSHAuthInfo.maxBytes, "a value over the cap parsed")
    require(info.methods.count <= SSHAuthInfo.maxMethods, "more methods than the cap")
    require(info.text == text, "parsed, but writes back differently: \(text.debugDescription) → \(info.text.debugDescription)")
    require(info.publicKeyBlobs.count == info.methods.filter { $0.name == "publickey" }.count, "publickey blobs")
    for key in info.securityKeys {
        require(key.fingerprint == Reference.sshFingerprint(key.blob), "fingerprint differs from the reference")
        require((try? SSHPublicKey(blob: key.blob)) == key, "a security key reads differently from its blob")
        require(info.publicKeyBlobs.contains(key.blob), "a security key that is no publickey blob")
    }
    for m in info.methods where m.name == "publickey" || m.name == "hostbased" {
        require(m.key != nil, "\(m.name) without its key")
    }
    return 0
}
