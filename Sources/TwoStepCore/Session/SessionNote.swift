/// What `pam_sm_authenticate` leaves, on a `remember_session` line, after
/// it accepted a code or an enrolled key (SPEC §12): a one-time, root-owned
/// note for the `pam_sm_open_session` of the same login, which turns it
/// into a `SessionRecord`.
///
/// File line: `session-note user= uid= factor= verified= opener= opener-start=
/// [parent= parent-start=]`. The opener is the process that authenticated;
/// the parent is its parent, since sshd runs keyboard-interactive PAM in a
/// child and opens the session in the parent. No other process may use
/// the note. Nothing on the line is secret.
public struct SessionNote: Sendable, Equatable {
    public static let keyword = "session-note"
    /// How long a note may wait for its session, seconds.
    public static let lifetime: Int64 = 60

    /// Who passed which second step, and when.
    public var verification: SessionVerification
    /// The process that authenticated.
    public var opener: ProcessStamp
    /// Its parent, when known.
    public var parent: ProcessStamp?

    public var user: String { verification.user }
    public var uid: UInt32 { verification.uid }
    public var factor: SessionFactor { verification.factor }
    public var verified: Int64 { verification.verified }

    public init(user: String, uid: UInt32, factor: SessionFactor, verified: Int64, opener: ProcessStamp, parent: ProcessStamp?) {
        verification = SessionVerification(user: user, uid: uid, factor: factor, verified: verified)
        self.opener = opener
        self.parent = parent
    }

    private enum Key {
        static let opener: FieldKey = "opener"
        static let openerStart: FieldKey = "opener-start"
        static let parent: FieldKey = "parent"
        static let parentStart: FieldKey = "parent-start"
    }

    /// The note's text: one line.
    public var text: String {
        var line = FactorLine(keyword: Self.keyword)
        verification.write(to: &line)
        line.append("opener", opener.pid)
        line.append("opener-start", opener.start)
        if let parent {
            line.append("parent", parent.pid)
            line.append("parent-start", parent.start)
        }
        return line.text + "\n"
    }

    /// Parses a note's text strictly: one line, every field known.
    public init(parsing text: String) throws(TwoStepError) {
        var r = FactorLineReader(try SessionText.line(text, keyword: Self.keyword))
        verification = try SessionVerification(reading: &r)
        opener = try SessionText.process(&r, Key.opener, Key.openerStart)
        parent = r.optional(Key.parent) == nil ? nil : try SessionText.process(&r, Key.parent, Key.parentStart)
        try r.finish()
    }

    /// True when `process` may use the note: its opener or the opener's parent.
    public func isBound(to process: ProcessStamp) -> Bool {
        process == opener || process == parent
    }

    /// Why `process` may not open a session with this note at `now`, for
    /// `user` (the account's own name and uid); nil when it may. `process`
    /// must be the opener or its parent, the note no older than `lifetime`
    /// (and not from the future beyond a second's rounding).
    public func refusal(process: ProcessStamp, user: String, uid: UInt32, at now: Int64) -> String? {
        guard isBound(to: process) else { return "the note is bound to another process" }
        guard self.user == user, self.uid == uid else { return "the note is for another user" }
        guard verified <= now + 1 else { return "the note is from the future" }
        guard now - verified <= Self.lifetime else { return "the note is older than \(Self.lifetime) seconds" }
        return nil
    }
}

/// What the session files' parsers share.
enum SessionText {
    /// The one line of `text` (a trailing newline allowed), with `keyword`.
    static func line(_ text: String, keyword: String) throws(TwoStepError) -> FactorLine {
        var body = Substring(text)
        if body.last == "\n" { body = body.dropLast() }
        guard !body.isEmpty, !body.contains("\n") else { throw .malformedFile(line: 1, reason: "\(keyword): one line expected") }
        let line = try FactorLine(parsing: body, line: 1)
        guard line.hasKeyword(keyword) else { throw .malformedFile(line: 1, reason: "\(keyword) expected") }
        return line
    }

    /// A process: its PID field and its start time field.
    static func process(_ r: inout FactorLineReader, _ pid: FieldKey, _ start: FieldKey) throws(TwoStepError) -> ProcessStamp {
        ProcessStamp(pid: Int32(try r.integer(pid, in: 1...Int64(Int32.max))),
                     start: UInt64(try r.integer(start, in: 0...Int64.max)))
    }
}
