import TwoStepAccounts
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// The accounts that can log in over ssh today, and which of them setup
/// would lock out: the ones `--enforce` would refuse (not enrolled), and
/// the ones the method itself shuts out whatever they enrol.
///
/// An account can log in over ssh when it has a login shell
/// (`LoginAccount.all()`, the rule `twostep report` uses too), root only as
/// PermitRootLogin allows, and it has a usable password (in /etc/shadow
/// neither locked, `!…`, nor `*`; an account whose hash is not in
/// /etc/shadow, from another NSS source, counts as usable) or a non-empty
/// AuthorizedKeysFile (or an AuthorizedKeysCommand is set, which may give
/// anyone keys); for who is locked out, only the ways sshd offers today.
/// Accounts are those getpwent(3) lists; AllowUsers, DenyUsers and Match
/// blocks are not taken into account.
struct SSHDLoginAccounts {
    struct Account {
        var name: String
        /// "password", "key (~/.ssh/authorized_keys)".
        var how: [String]
        /// Why it is not enrolled ("no factor file at …", or the error), or why it would be locked out.
        var reason: String
    }

    /// One account that can log in over ssh today.
    private struct Way {
        var account: TwoStepStore.UserAccount
        var password: Bool
        var keys: [String]
        var how: [String] { (password ? ["password"] : []) + keys }
    }

    /// The accounts that can log in over ssh and are not enrolled in `configuration`'s store.
    static func unenrolled(effective: [String: String], configuration: SystemConfiguration) -> [Account] {
        ways(effective: effective, offeredToday: false).compactMap { way in
            notEnrolled(way.account, configuration: configuration).map { Account(name: way.account.name, how: way.how, reason: $0) }
        }
    }

    /// The accounts that can log in over ssh today (`effective`: sshd -T
    /// before the change) and could not at all once `method` is in force,
    /// enrolled or not:
    /// - root, when PermitRootLogin is not `yes`: sshd refuses root's
    ///   keyboard-interactive step (in which PAM asks for the code) whatever
    ///   comes before it, so neither method lets root in;
    /// - with `password`, an account with keys but no usable password;
    /// - with `publickey`, an account with a password but no key.
    static func lockedOut(method: SSHDMethod, effective: [String: String]) -> [Account] {
        let rootLogin = effective["permitrootlogin"] ?? "prohibit-password"
        var found = [Account]()
        for way in ways(effective: effective, offeredToday: true) {
            let reason: String?
            if way.account.uid == 0 && rootLogin != "yes" {
                reason = "PermitRootLogin \(rootLogin): sshd refuses root the keyboard-interactive step that asks for the code, so root could not log in over ssh at all"
            } else if method == .password && !way.password {
                reason = "no usable password: it logs in with a key only, and --method password asks for the password"
            } else if method == .publickey && way.keys.isEmpty {
                reason = "no authorized key: it logs in with a password only, and --method publickey asks for a key"
            } else {
                reason = nil
            }
            if let reason { found.append(Account(name: way.account.name, how: way.how, reason: reason)) }
        }
        return found
    }

    /// Every account that can log in over ssh, and how. `offeredToday`: a
    /// password counts only while sshd offers PasswordAuthentication or
    /// KbdInteractiveAuthentication, a key only while PubkeyAuthentication
    /// is on (for who is locked out; after the change keyboard-interactive is on).
    private static func ways(effective: [String: String], offeredToday: Bool) -> [Way] {
        let shadow = shadowPasswords()
        let keyPatterns = (effective["authorizedkeysfile"] ?? ".ssh/authorized_keys .ssh/authorized_keys2")
            .split(separator: " ").map(String.init)
        let keyCommand = (effective["authorizedkeyscommand"] ?? "none") != "none"
        let rootLogin = effective["permitrootlogin"] ?? "prohibit-password"
        let passwordOffered = !offeredToday || effective["passwordauthentication"] != "no" || effective["kbdinteractiveauthentication"] == "yes"
        let keysOffered = !offeredToday || effective["pubkeyauthentication"] != "no"
        var found = [Way]()
        for user in LoginAccount.all() {
            var password = passwordOffered && (shadow[user.account.name].map(usable) ?? true)
            let keys = !keysOffered ? [] : keyCommand ? ["key (AuthorizedKeysCommand)"] : keyFiles(keyPatterns, for: user.account)
            if user.account.uid == 0 {
                if rootLogin == "no" { continue }
                if rootLogin != "yes" { password = false }
            }
            if !password && keys.isEmpty { continue }
            found.append(Way(account: user.account, password: password, keys: keys))
        }
        return found
    }

    /// nil when `account` has two-step verification on, else why not.
    private static func notEnrolled(_ account: TwoStepStore.UserAccount, configuration: SystemConfiguration) -> String? {
        do {
            let service = try Target.reach(account, template: configuration.options.store, configuration: configuration,
                                           named: true).service
            let status = try service.status()
            if status.enabled { return nil }
            return status.exists ? "\(status.path) has no authenticator or backup code" : "no factor file at \(status.path)"
        } catch {
            return "\(error)"
        }
    }

    /// /etc/shadow: name → hash (root reads it; NSS shadow sources are not asked).
    private static func shadowPasswords() -> [String: String] {
        guard let file = try? SetupFile.read("/etc/shadow"), file.exists else { return [:] }
        var hashes = [String: String]()
        for line in file.text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 2 else { continue }
            // An account past its expiry date (field 8, days since 1970) cannot log in.
            if fields.count >= 8, let expires = Int(fields[7]), expires * 86400 < Int(Clock.now) {
                hashes[String(fields[0])] = "!expired"
                continue
            }
            hashes[String(fields[0])] = String(fields[1])
        }
        return hashes
    }

    /// A password hash someone can log in with (an empty one too: pam_unix's nullok).
    private static func usable(_ hash: String) -> Bool {
        !hash.hasPrefix("!") && !hash.hasPrefix("*")
    }

    /// The AuthorizedKeysFile entries of `account` that hold a key.
    private static func keyFiles(_ patterns: [String], for account: TwoStepStore.UserAccount) -> [String] {
        var found = [String]()
        for pattern in patterns where pattern != "none" {
            var path = ""
            var chars = Array(pattern)[...]
            while let c = chars.popFirst() {
                guard c == "%", let t = chars.popFirst() else { path.append(c); continue }
                switch t {
                case "h": path += account.home
                case "u": path += account.name
                case "U": path += String(account.uid)
                default: path.append(t)
                }
            }
            if !path.hasPrefix("/") { path = (account.home == "/" ? "" : account.home) + "/" + path }
            // Read as the user: a link in their home cannot make root read anything they could not.
            let read = try? FileSystemIdentity.run(uid: account.uid, gid: account.gid) { readSmall(path) }
            guard let text = read ?? nil else { continue }
            let hasKey = text.split(separator: "\n").contains { line in
                let t = line.drop(while: { $0 == " " || $0 == "\t" })
                return !t.isEmpty && !t.hasPrefix("#")
            }
            if hasKey { found.append("key (\(path))") }
        }
        return found
    }

    /// The text of the regular file at `path` (links followed, as sshd
    /// does; no waiting on a FIFO), at most 1 MiB; nil when there is none.
    private static func readSmall(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}
