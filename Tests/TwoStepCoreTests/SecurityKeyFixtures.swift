import TwoStepCore

// Real OpenSSH 9.2p1 (Debian 12) keys and SSH_AUTH_INFO_0 values for the
// SecurityKeys tests. The sk keys were made with `ssh-keygen -t
// ed25519-sk|ecdsa-sk [-O verify-required|-O no-touch-required|-O
// application=ssh:twostep] -w sk-dummy.so` (OpenSSH's test provider from
// Debian's openssh-tests, Tests/Integration/securitykeys.py); each
// fingerprint is what `ssh-keygen -lf KEY.pub` printed. The SSH_AUTH_INFO_0
// values were captured by pam_exec from a real sshd (sshd.sh, `AuthenticationMethods
// publickey,keyboard-interactive`, `PubkeyAuthOptions verify-required`)
// in the auth, account and session stacks.

/// A key line as ssh-keygen wrote it and the fingerprint ssh-keygen -l printed.
struct KeyFixture {
    let line: String
    let fingerprint: String
    let comment: String
    let application: String

    var type: String { String(line.split(separator: " ")[0]) }
    var base64: String { String(line.split(separator: " ")[1]) }
}

enum SKFixtures {
    /// `ssh-keygen -t ed25519-sk -O verify-required`.
    static let ed25519VerifyRequired = KeyFixture(
        line: "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOQoxlW0OtzreiFK/AasCFzLWOTOotIsD8XRy3qp4RyRAAAABHNzaDo= vr",
        fingerprint: "SHA256:NX/JnmZYT9+1Hif2+/scAKhp31b00o2bNOxgpPch27I", comment: "vr", application: "ssh:")
    /// `ssh-keygen -t ed25519-sk` (touch only).
    static let ed25519Touch = KeyFixture(
        line: "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICszoa6cLjy/dcITygpQU7k5MJzXbhLqsesdWPvLYjA+AAAABHNzaDo= touch",
        fingerprint: "SHA256:MqxGo7uFn3pYxSr+vA35RzL9RTmosh+AhgxGg1BzvlU", comment: "touch", application: "ssh:")
    /// `ssh-keygen -t ed25519-sk -O no-touch-required`.
    static let ed25519NoTouch = KeyFixture(
        line: "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIPuyWqCOl8sjdT8wd3IsDpDW0gONme7ANnxDKbA6Ja7lAAAABHNzaDo= nt",
        fingerprint: "SHA256:Aku3az72A21R/aqkvvr8Ke7MslM0hZ86KYFhvxdtjpE", comment: "nt", application: "ssh:")
    /// `ssh-keygen -t ed25519-sk -O application=ssh:twostep`.
    static let ed25519Application = KeyFixture(
        line: "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIDy2VXxw8raXH2R2dnARihlKizD8/ip3XAiCr+flgOdxAAAAC3NzaDp0d29zdGVw app",
        fingerprint: "SHA256:z0jz6Ry5ogiLQToZndx3DAa7UkOQ70KCm/9lDxyCgzM", comment: "app", application: "ssh:twostep")
    /// `ssh-keygen -t ecdsa-sk` (touch only).
    static let ecdsaTouch = KeyFixture(
        line: "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBPgqXn7HTm1ccB1hLW5n6xGOJYpLuEWqErWBo0ExLmkTyGNuZhmY605PuOZHS2G+b038/4DJuJpSDUXgy7dreP4AAAAEc3NoOg== ec",
        fingerprint: "SHA256:2hqBT6W4HO+ie3tEwrmiKaKJfozng3wQRkwoVBiWwWI", comment: "ec", application: "ssh:")
    /// `ssh-keygen -t ecdsa-sk -O verify-required`.
    static let ecdsaVerifyRequired = KeyFixture(
        line: "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBGPAOffV4whEp4NQcsg5iCqGOxeQAARlt/gdbohOdutdxEBcJyfDhlVOzEQTZtEHS1QJ8n83IMexJJQrNfSdi50AAAAEc3NoOg== ecvr",
        fingerprint: "SHA256:WfjAPKvXst3MhvL8oaZtjMtGEAzghzhDLog1oqbFk0o", comment: "ecvr", application: "ssh:")

    static let all = [ed25519VerifyRequired, ed25519Touch, ed25519NoTouch, ed25519Application, ecdsaTouch, ecdsaVerifyRequired]

    /// Plain (non-FIDO) keys, refused by type.
    static let plainEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkgaQJ+3F52NzXE+c4wJCczqH363krW4kajiu6xmF6R plain"
    static let plainEd25519Fingerprint = "SHA256:UfK/cpY/y0RbSGZJg+bHWri8XDDZrGhmheQYRtyLUqs"
    static let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC5Lgn2WYuuI3gVHxgc8nqLawpbiRgdtKiHNNL43ZYbb7jNQxkq14Ys6Q+N8EbJGdZmERZdk2p3hfPuVUXyCxOiTDeaTAppuHaFZ/wc/M4yg9jDAJdTtWdsURKo+HqQtPQPOej06pK+cAUjtFByVrotBMmZhYhGTr4S8M30/VRAxw== rsa"
    static let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFhyRCrOkkxTYRC4Ero/XGkzytZ7O+YqZ4Y0qZ1Ve2G20y/h4M+INiYWtwTo+R1fvFTcKz43/Vq5lm1g1dTw3pE= ecdsa"

    // SSH_AUTH_INFO_0 as sshd set it (captured, byte for byte).

    /// The auth stack after `publickey` with the verify-required ed25519-sk
    /// key (the same with the key in ssh-agent -P sk-dummy.so).
    static let authInfoAuthStack =
        "publickey sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOQoxlW0OtzreiFK/AasCFzLWOTOotIsD8XRy3qp4RyRAAAABHNzaDo=\n"
    /// The same login's session stack (open_session, close_session).
    static let authInfoSessionStack =
        "publickey sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOQoxlW0OtzreiFK/AasCFzLWOTOotIsD8XRy3qp4RyRAAAABHNzaDo=\n"
        + "keyboard-interactive/pam\n"
    /// `AuthenticationMethods publickey,publickey,keyboard-interactive`, the
    /// auth stack: the two sk keys (ed25519-sk, then ecdsa-sk).
    static let authInfoTwoKeys =
        "publickey sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIOQoxlW0OtzreiFK/AasCFzLWOTOotIsD8XRy3qp4RyRAAAABHNzaDo=\n"
        + "publickey sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBGPAOffV4whEp4NQcsg5iCqGOxeQAARlt/gdbohOdutdxEBcJyfDhlVOzEQTZtEHS1QJ8n83IMexJJQrNfSdi50AAAAEc3NoOg==\n"
    /// `AuthenticationMethods publickey,password` with a plain key, the
    /// session stack. (The auth stack of that login saw an empty value:
    /// sshd's password method runs PAM without it.)
    static let authInfoPlainKeyPassword =
        "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkgaQJ+3F52NzXE+c4wJCczqH363krW4kajiu6xmF6R\n"
        + "password\n"
}

/// The error a typed-throwing SecurityKeys call threw, or nil when it returned.
func skError<R>(_ body: () throws(SecurityKeyError) -> R) -> SecurityKeyError? {
    do throws(SecurityKeyError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Big-endian SSH `string` fields, for building blobs by hand.
func sshString(_ bytes: [UInt8]) -> [UInt8] {
    let n = UInt32(bytes.count)
    return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
}

func sshString(_ text: String) -> [UInt8] { sshString(Array(text.utf8)) }

extension KeyFixture {
    /// The key as twostep enrols it (from its `TYPE BASE64`, no comment).
    func key() throws -> SSHPublicKey { try SSHPublicKey(type: type, base64: base64) }
    /// The blob's Base64 as a factor file's `sshkey` line holds it (no `=` padding).
    var unpaddedBase64: String { String(base64.prefix { $0 != "=" }) }
    /// `publickey TYPE BASE64\n`: the auth stack's `SSH_AUTH_INFO_0` after a login with this key.
    var authInfo: String { "publickey \(type) \(base64)\n" }
    /// An `sshkey` line enrolling this key.
    func sshkeyLine(id: String = "key-1", label: String = "YubiKey", created: Int64 = 1_764_220_800, lastUsed: Int64? = nil) -> String {
        "sshkey id=\(id) type=\(type) key=\(unpaddedBase64) label=\(label) created=\(created)"
            + (lastUsed.map { " last-used=\($0)" } ?? "")
    }
}
