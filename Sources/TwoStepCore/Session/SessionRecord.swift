/// A login session that passed the second step (SPEC §12): one root-owned
/// 0644 file per (boot, audit session id, uid) under `socket_dir`/sessions,
/// written by `pam_sm_open_session` from a `SessionNote`, removed by
/// `pam_sm_close_session`. `recent=` reads it; `twostep status` shows it.
///
/// File line: `session user= uid= factor= verified= boot= id=`. Nothing on
/// it is secret.
public struct SessionRecord: Sendable, Equatable {
    public static let keyword = "session"

    /// Who passed which second step, and when.
    public var verification: SessionVerification
    /// The login session: this boot and the kernel's audit session id.
    public var session: LoginSessionID

    public var user: String { verification.user }
    public var uid: UInt32 { verification.uid }
    public var factor: SessionFactor { verification.factor }
    public var verified: Int64 { verification.verified }

    public init(user: String, uid: UInt32, factor: SessionFactor, verified: Int64, session: LoginSessionID) {
        verification = SessionVerification(user: user, uid: uid, factor: factor, verified: verified)
        self.session = session
    }

    private enum Key {
        static let boot: FieldKey = "boot"
        static let id: FieldKey = "id"
    }

    /// The record's text: one line.
    public var text: String {
        var line = FactorLine(keyword: Self.keyword)
        verification.write(to: &line)
        line.append("boot", session.boot)
        line.append("id", session.id)
        return line.text + "\n"
    }

    /// Parses a record's text strictly.
    public init(parsing text: String) throws(TwoStepError) {
        var r = FactorLineReader(try SessionText.line(text, keyword: Self.keyword))
        verification = try SessionVerification(reading: &r)
        let boot = try r.required(Key.boot)
        let id = UInt32(try r.integer(Key.id, in: 0...Int64(LoginSessionID.unset - 1)))
        guard let session = LoginSessionID(boot: boot, id: id) else { throw r.error("malformed boot id") }
        self.session = session
        try r.finish()
    }
}

/// A login session: the boot (`/proc/sys/kernel/random/boot_id`) and the
/// kernel's audit session id (`/proc/self/sessionid`, set by
/// `pam_loginuid`, inherited by every child, changeable only with
/// CAP_AUDIT_CONTROL).
public struct LoginSessionID: Sendable, Equatable {
    /// The id of a process outside every login session.
    public static let unset: UInt32 = 4_294_967_295

    /// The boot id: a UUID in lower-case hex with dashes (36 characters).
    public let boot: String
    public let id: UInt32

    /// nil when `boot` is not a boot id or `id` is `unset`.
    public init?(boot: String, id: UInt32) {
        guard id != Self.unset, boot.utf8.count == 36,
              boot.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || Hex.value($0) != nil && !($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F")) })
        else { return nil }
        self.boot = boot
        self.id = id
    }

    /// The record's file name for `uid`: `BOOT-ID-UID`.
    public func fileName(uid: UInt32) -> String { "\(boot)-\(id)-\(uid)" }
}
