import CPAMShim
import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// One call into the module: the PAM handle and what libpam offers through
/// it (user, items, environment, conversation, syslog, privileges). The only
/// Swift type that touches libpam.
struct PAMSession {
    let handle: OpaquePointer
    var debug = false

    /// The user being authenticated (`pam_get_user`), nil when there is none.
    func user() -> String? {
        var name: UnsafePointer<CChar>?
        guard pam_get_user(handle, &name, nil) == PAM_SUCCESS, let name else { return nil }
        let user = String(cString: name)
        return user.isEmpty ? nil : user
    }

    /// The account the name service returns for `user` (nil: no such
    /// user), looked up once per PAM handle: sshd asks again on the same
    /// handle for every code a client tries on one connection, and it looks
    /// the user up once per connection itself. The account's `name` is its
    /// own `pw_name`, which may be spelt otherwise than `user` (a
    /// case-insensitive name service, `user@domain`). A lookup for another
    /// name (PAM_USER changed) asks the database again; an NSS error is
    /// thrown, never remembered.
    func account(named user: String) throws(UserAccount.LookupError) -> UserAccount? {
        var found: Int32 = 0
        var uid = uid_t(), gid = gid_t()
        var name: UnsafePointer<CChar>?
        var home: UnsafePointer<CChar>?
        if twostep_account_get(handle, user, &found, &uid, &gid, &name, &home) == 1 {
            guard found == 1, let name, let home else { return nil }
            return UserAccount(name: String(cString: name), uid: uid, gid: gid, home: String(cString: home))
        }
        let account = try UserAccount.named(user)
        // Not remembered (out of memory) only means asking again next time.
        _ = twostep_account_put(handle, user, account == nil ? 0 : 1, account?.uid ?? 0, account?.gid ?? 0,
                                account?.name ?? "", account?.home ?? "")
        return account
    }

    /// A string item such as PAM_SERVICE or PAM_RHOST.
    func item(_ type: Int32) -> String? {
        var value: UnsafeRawPointer?
        guard pam_get_item(handle, type, &value) == PAM_SUCCESS, let value else { return nil }
        let text = String(cString: value.assumingMemoryBound(to: CChar.self))
        return text.isEmpty ? nil : text
    }

    /// A variable of the PAM environment (`pam_getenv`).
    func environment(_ name: String) -> String? {
        guard let value = pam_getenv(handle, name) else { return nil }
        return String(cString: value)
    }

    /// Sets a variable of the PAM environment (`pam_putenv`); false when libpam refused.
    func setEnvironment(_ name: String, _ value: String) -> Bool {
        pam_putenv(handle, name + "=" + value) == PAM_SUCCESS
    }

    /// Removes a variable from the PAM environment (`pam_putenv` of the bare name).
    func removeEnvironment(_ name: String) {
        _ = pam_putenv(handle, name)
    }

    /// Asks a question; nil when the client gives no answer (a client that
    /// can answer one prompt only, a closed connection). The answer buffer is
    /// cleansed before it is released.
    func ask(_ text: String, echo: Bool) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        defer { buffer.withUnsafeMutableBytes { cleanse($0) } }
        let rc = twostep_prompt(handle, echo ? 1 : 0, text, &buffer, buffer.count)
        // An answer too long for the buffer is no code at all: it is
        // checked (and counted) as a wrong one, not treated as no answer.
        if rc == PAM_BUF_ERR { return Self.overlongAnswer }
        guard rc == PAM_SUCCESS else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// What an over-long answer becomes: matches no factor.
    static let overlongAnswer = "overlong"

    /// Tells the user something.
    func info(_ text: String) { _ = twostep_info(handle, text) }

    /// Tells the user about a problem.
    func error(_ text: String) { _ = twostep_error(handle, text) }

    /// Logs to syslog (auth facility) through `pam_syslog`. Never pass a
    /// code, an answer or a secret.
    func log(_ priority: Int32, _ message: String) {
        twostep_syslog(handle, priority, message)
    }

    /// Logs only with the `debug` option.
    func debugLog(_ message: @autoclosure () -> String) {
        if debug { log(LOG_DEBUG, message()) }
    }

    /// Asks libpam to delay a failure (`pam_fail_delay`), so that wrong
    /// answers take about the same time whatever the reason.
    func requestFailDelay(microseconds: UInt32) {
        _ = pam_fail_delay(handle, microseconds)
    }

    /// Sets PAM_AUTHTOK for the next module (forward_pass).
    func setAuthToken(_ password: String) -> Bool {
        twostep_set_authtok(handle, password) == PAM_SUCCESS
    }
}

