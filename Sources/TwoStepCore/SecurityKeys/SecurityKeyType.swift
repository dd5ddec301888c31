/// The OpenSSH FIDO security key types (PROTOCOL.u2f) that twostep can
/// enrol; every other key type is refused by name.
public enum SecurityKeyType: String, Sendable, CaseIterable, Equatable {
    /// Ed25519 on a FIDO authenticator (`ssh-keygen -t ed25519-sk`).
    case sshEd25519 = "sk-ssh-ed25519@openssh.com"
    /// ECDSA on NIST P-256 on a FIDO authenticator (`ssh-keygen -t ecdsa-sk`).
    case ecdsaP256 = "sk-ecdsa-sha2-nistp256@openssh.com"

    /// The name `ssh-keygen -l` shows in parentheses (`ED25519-SK`, `ECDSA-SK`).
    public var shortName: String {
        switch self {
        case .sshEd25519: "ED25519-SK"
        case .ecdsaP256: "ECDSA-SK"
        }
    }

    /// The type with this wire name (exact, case-sensitive, as sshd compares).
    init?(bytes: some Collection<UInt8>) {
        guard let type = Self.allCases.first(where: { $0.rawValue.utf8.elementsEqual(bytes) }) else { return nil }
        self = type
    }

    /// OpenSSH's other public key type names (sshkey.c's table, 9.2): named
    /// in errors as key types, not taken for authorized_keys options.
    static let otherOpenSSHTypes: Set<String> = [
        "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", "rsa-sha2-256", "rsa-sha2-512",
        "rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-512-cert-v01@openssh.com",
        "ssh-dss", "ssh-dss-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-xmss@openssh.com", "ssh-xmss-cert-v01@openssh.com",
    ]
}
