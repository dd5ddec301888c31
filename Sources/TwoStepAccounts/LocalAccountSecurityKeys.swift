import TwoStepCore
import TwoStepStore

/// Security keys (SPEC §11): enrolling OpenSSH FIDO public keys the caller
/// sends as text. The service never reads a home directory (the CLI reads
/// the `.pub` or `authorized_keys` file as the user); what it checks, it
/// checks here, the same for the CLI and twostepd.
extension LocalAccountService {
    public func addSecurityKey(_ request: AddSecurityKeyRequest) throws(AccountError) -> AddedResult {
        var wanted = [(SSHPublicKey, String)]()
        for new in [NewSecurityKey(key: request.key, label: request.label)] + (request.more ?? []) {
            try Self.checkLabel(new.label)
            wanted.append((try Self.securityKey(new.key), new.label))
        }
        // Root (acting on anyone, or on its own record) may always enrol.
        do {
            try MethodRules.checkKeyEnrolment(by: isAdministrator || account.uid == 0, policy: settings.securityKeyEnrol)
        } catch {
            throw .usage(error.description)
        }
        let (ids, authorization) = try change(authorizing: request.code) { file in
            // The rules (a code method and a backup method, not enrolled
            // already) on the file read under the lock; a refusal writes nothing.
            let now = Clock.now
            var ids = [String]()
            do throws(MethodRules.Violation) {
                for (key, label) in wanted { ids.append(try file.addSecurityKey(key, label: label, at: now).id) }
            } catch {
                throw AccountError.usage(error.description)
            }
            return ids
        }
        return AddedResult(id: ids[0], authorization: authorization)
    }

    /// The security key `text` holds (one `authorized_keys` line or a
    /// `.pub` file's content); a usage error naming what is wrong with it.
    static func securityKey(_ text: String) throws(AccountError) -> SSHPublicKey {
        do { return try SSHPublicKey(authorizedKeysLine: text) } catch { throw .usage("the key: \(error)") }
    }
}
