import ArgumentParser
import TwoStepAccounts
import TwoStepCore

/// `twostep add key`: enrol an OpenSSH security key (SPEC §11).
struct AddKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Enrol an OpenSSH security key (FIDO: ed25519-sk or ecdsa-sk) as an additional method.",
        discussion: """
            Give the public key as a file (KEY.pub, as ssh-keygen -t ed25519-sk wrote it), as \
            '-' to read it from standard input, or choose among the security keys of your \
            ~/.ssh/authorized_keys with --from-authorized-keys (asked interactively, or \
            --fingerprint SHA256:... or --all). Only the sk key types are accepted. With the \
            policy security_keys=touch|verify, an SSH login with an enrolled key is not asked \
            for a code. A key is never the only method: you need an authenticator app or a \
            phone and backup codes (or a second phone) first. The change is authorized by a \
            code (--code; not needed for root with --user). The label defaults to the key's \
            comment, else its fingerprint. Where twostep.conf says security_key_enrol=root, \
            only root enrols keys (twostep add key --user NAME ...). The files are read with \
            the user's rights, also by root with --user, and never through a symbolic link; \
            a key file larger than 64 KiB is refused. 'twostep status' lists the keys, \
            'twostep remove key-N' removes one.
            """)

    @OptionGroup var target: TargetOptions

    @Argument(help: ArgumentHelp("The public key file (KEY.pub), or - for standard input.", valueName: "file"),
              completion: .file(extensions: ["pub"]))
    var file: String?

    @Flag(name: .customLong("from-authorized-keys"),
          help: "Choose among the security keys of the user's ~/.ssh/authorized_keys.")
    var fromAuthorizedKeys = false

    @Option(help: ArgumentHelp("With --from-authorized-keys: the key with this fingerprint (as ssh-keygen -l prints it).",
                               valueName: "SHA256:..."))
    var fingerprint: String?

    @Flag(help: "With --from-authorized-keys: every security key there that is not enrolled yet.")
    var all = false

    @Option(help: ArgumentHelp("A name for the key, shown by status (default: the key's comment, else its fingerprint).",
                               valueName: "label"))
    var label: String?

    @Option(help: ArgumentHelp("A valid code that authorizes the change (asked for when not given; not needed for root with --user).", valueName: "code"))
    var code: String?

    func validate() throws {
        if fromAuthorizedKeys {
            if file != nil { throw ValidationError("give a key file or --from-authorized-keys, not both") }
            if all && fingerprint != nil { throw ValidationError("--all and --fingerprint exclude each other") }
            if all && label != nil { throw ValidationError("--label names one key: with --all each key is labelled by its comment") }
        } else {
            if file == nil { throw ValidationError("give the public key file (KEY.pub), - for standard input, or --from-authorized-keys") }
            if all || fingerprint != nil { throw ValidationError("--all and --fingerprint go with --from-authorized-keys") }
        }
    }

    func run() throws {
        let target = try target.resolve()
        let status = try target.enabledStatus()
        if !target.isAdministrator { try CodeCheck.refuseDuringLockout(status) }
        // Read before any question (a key on standard input comes first).
        let keys: [SSHPublicKey]
        if let file {
            let source = file == "-" ? "standard input" : file
            keys = [try PublicKeyText.oneKey(try PublicKeyText.read(file, as: target.account), from: source)]
        } else {
            keys = try chooseFromAuthorizedKeys(target, enrolled: status.securityKeys)
        }
        for key in keys {
            if let enrolled = status.securityKeys.first(where: { $0.fingerprint == key.fingerprint }) {
                throw CLIError.usage("the key \(key.fingerprint) is enrolled already, as '\(enrolled.id)'")
            }
        }
        let authorizing = try CodeCheck.obtain(for: target, status: status, given: code)
        let labelled = keys.map { NewSecurityKey(key: $0.openSSHText, label: label ?? PublicKeyText.defaultLabel($0)) }
        let added = try target.service.addSecurityKey(AddSecurityKeyRequest(
            key: labelled[0].key, label: labelled[0].label, code: authorizing,
            more: labelled.count > 1 ? Array(labelled.dropFirst()) : nil))
        CodeCheck.report(added.authorization)
        let now = (try? target.service.status().securityKeys) ?? []
        for key in keys {
            let entry = now.first { $0.fingerprint == key.fingerprint }
            Console.out("Added security key \(Console.field(entry?.id ?? added.id)) \"\(Console.field(entry?.label ?? ""))\" (\(key.type.shortName) \(key.fingerprint)).")
        }
    }

    /// The keys of `~/.ssh/authorized_keys` to enrol: the one `--fingerprint`
    /// names, all of them (`--all`), or the one the user picks from a list.
    private func chooseFromAuthorizedKeys(_ target: Target, enrolled: [AccountStatus.SecurityKeyEntry]) throws -> [SSHPublicKey] {
        let home = target.account.home == "/" ? "" : target.account.home
        let path = home + "/.ssh/authorized_keys"
        let text = try PublicKeyText.read(path, as: target.account)
        let keys: [SSHPublicKey]
        do { keys = try AuthorizedKeysFile.securityKeys(text) } catch { throw CLIError.usage("\(path): \(error)") }
        var unique = [SSHPublicKey]()
        for key in keys where !unique.contains(where: { $0.blob == key.blob }) { unique.append(key) }
        guard !unique.isEmpty else {
            throw CLIError.usage("\(path) holds no security key (sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com); make one with 'ssh-keygen -t ed25519-sk'")
        }
        if let fingerprint {
            guard let key = unique.first(where: { $0.fingerprint == fingerprint }) else {
                throw CLIError.usage("no security key in \(path) has the fingerprint \(fingerprint) ('ssh-keygen -lf \(path)' lists them)")
            }
            return [key]
        }
        if all {
            let new = unique.filter { key in !enrolled.contains { $0.fingerprint == key.fingerprint } }
            guard !new.isEmpty else { throw CLIError.usage("every security key in \(path) is enrolled already") }
            return new
        }
        Console.error("Security keys in \(path):")
        for (i, key) in unique.enumerated() {
            let comment = key.comment.isEmpty ? "" : "  " + Console.field(key.comment)
            let known = enrolled.first { $0.fingerprint == key.fingerprint }.map { "  (enrolled as \($0.id))" } ?? ""
            Console.error("  \(i + 1)  \(key.type.shortName)  \(key.fingerprint)\(comment)\(known)")
        }
        let answer = try Prompter.ask("Which key to enrol (1-\(unique.count))? ", flag: "--fingerprint")
        guard let n = Int(answer), (1...unique.count).contains(n) else {
            throw CLIError.usage("'\(answer)' is not a number from 1 to \(unique.count)")
        }
        return [unique[n - 1]]
    }
}
