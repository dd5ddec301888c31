import FuzzSupport
import TwoStepCore

/// SSH_AUTH_INFO_0 values (SSHAuthInfo), as sshd puts them into the PAM
/// environment: never a crash; what parses is exactly the text its methods
/// write back (so nothing odd was skipped over), within the caps, and every
/// security key it yields reads again from its own blob. The login's
/// decision (SecurityKeyLogin) accepts exactly when the value parses and a
/// completed publickey method's blob is, byte for byte, an enrolled key's.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let text = String(decoding: input.rest(), as: UTF8.self)
    checkSecurityKeyLogin(text)
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

/// Two enrolled keys (the verify-required ed25519-sk and ecdsa-sk keys of
/// the seed corpus), next to an authenticator and a backup code.
private let enrolledFile: FactorFile = {
    let keys = [
        "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOQoxlW0OtzreiFK/AasCFzLWOTOotIsD8XRy3qp4RyRAAAABHNzaDo=",
        "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBGPAOffV4whEp4NQcsg5iCqGOxeQAARlt/gdbohOdutdxEBcJyfDhlVOzEQTZtEHS1QJ8n83IMexJJQrNfSdi50AAAAEc3NoOg==",
    ]
    var factors: [any Factor] = []
    for (i, text) in keys.enumerated() {
        guard let blob = try? Base64.decode(text), let key = try? SSHPublicKey(blob: blob) else { fatalError("seed key") }
        factors.append(SecurityKey(id: "key-\(i + 1)", key: key, label: "k", created: 1))
    }
    return FactorFile(factors: factors)
}()

private func checkSecurityKeyLogin(_ text: String) {
    let now: Int64 = 1_764_300_000
    let enrolled = enrolledFile.securityKeys
    let blobs = (try? SSHAuthInfo(parsing: text))?.publicKeyBlobs ?? []
    let expected = enrolled.first { key in blobs.contains(key.key.blob) }
    switch SecurityKeyLogin(policy: .touch).decide(file: enrolledFile, authInfo: text, at: now) {
    case .accepted(let id, let file):
        require(id == expected?.id, "accepted \(id), expected \(String(describing: expected?.id)): \(text.debugDescription)")
        var back = file
        for (i, factor) in back.factors.enumerated() {
            guard var key = factor as? SecurityKey else { continue }
            require((key.id == id) == (key.lastUsed == now), "last-used set on the wrong key")
            key.lastUsed = nil
            back.factors[i] = key
        }
        require(back == enrolledFile, "more than last-used changed")
    case .notApplicable(let reason):
        require(expected == nil, "refused (\(reason)) a value with an enrolled key: \(text.debugDescription)")
        require(!reason.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "a control character in the reason")
    }
    guard case .notApplicable(.policyOff) = SecurityKeyLogin(policy: .off).decide(file: enrolledFile, authInfo: text, at: now) else {
        require(false, "security_keys=off decided otherwise")
        return
    }
}
