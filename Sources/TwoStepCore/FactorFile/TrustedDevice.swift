/// A device the user chose to trust ("Don't ask for codes on this device"):
/// logins to `service` from it skip the code until `expires`.
///
/// File line: `trust id= service= [rhost=] [key=] created= expires=`; at
/// least one of `rhost` (the remote host) and `key` (the fingerprint of the
/// SSH public key that passed the first step) identifies the device.
public struct TrustedDevice: Sendable, Equatable {
    public static let keyword = "trust"
    public static let idPrefix = "trust"

    public var id: String
    /// The PAM service the trust applies to (e.g. `sshd`).
    public var service: String
    /// The remote host the login came from, when the record is bound to one.
    public var remoteHost: String?
    /// The SSH key fingerprint, when the record is bound to one.
    public var keyFingerprint: String?
    public var created: Int64
    public var expires: Int64

    public init(id: String, service: String, remoteHost: String?, keyFingerprint: String?, created: Int64, expires: Int64) {
        self.id = id
        self.service = service
        self.remoteHost = remoteHost
        self.keyFingerprint = keyFingerprint
        self.created = created
        self.expires = expires
    }

    /// The field keys, packed once.
    private enum Key {
        static let id: FieldKey = "id"
        static let service: FieldKey = "service"
        static let rhost: FieldKey = "rhost"
        static let key: FieldKey = "key"
        static let created: FieldKey = "created"
        static let expires: FieldKey = "expires"
    }

    init(_ line: consuming FactorLine) throws(TwoStepError) {
        var r = FactorLineReader(line)
        id = try r.required(Key.id)
        service = try r.required(Key.service)
        remoteHost = r.optional(Key.rhost)
        keyFingerprint = r.optional(Key.key)
        created = try r.time(Key.created)
        expires = try r.time(Key.expires)
        guard remoteHost != nil || keyFingerprint != nil else { throw r.error("needs rhost= or key=") }
        guard expires >= created else { throw r.error("expires before it was created") }
        try r.finish()
    }

    /// Writes the fields (the keyword is written by the caller).
    func write(to r: inout FactorLine) {
        r.append("id", id)
        r.append("service", service)
        r.append("rhost", remoteHost)
        r.append("key", keyFingerprint)
        r.append("created", created)
        r.append("expires", expires)
    }
}

/// Consecutive wrong codes and the lock-out they caused, and when a code
/// was last accepted.
///
/// File line (at most one, written always and first):
/// `failures count= [locked-until=] [last=] [accepted=]`.
public struct FailureState: Sendable, Equatable {
    public static let keyword = "failures"

    /// Wrong codes in a row since the last accepted code or lock-out.
    public var count: Int
    /// While `now < lockedUntil`, every code is refused unchecked.
    public var lockedUntil: Int64?
    /// When the last wrong code came, Unix seconds.
    public var last: Int64?
    /// When a code of any kind (authenticator, backup, sent) was last
    /// accepted, Unix seconds; nil before the first (or in a file written
    /// before twostep recorded it).
    public var lastAccepted: Int64?

    public init(count: Int = 0, lockedUntil: Int64? = nil, last: Int64? = nil, lastAccepted: Int64? = nil) {
        self.count = count
        self.lockedUntil = lockedUntil
        self.last = last
        self.lastAccepted = lastAccepted
    }

    /// No failures on record (whatever `lastAccepted` says).
    public var isClear: Bool { count == 0 && lockedUntil == nil && last == nil }

    /// The field keys, packed once.
    private enum Key {
        static let count: FieldKey = "count"
        static let lockedUntil: FieldKey = "locked-until"
        static let last: FieldKey = "last"
        static let accepted: FieldKey = "accepted"
    }

    init(_ line: consuming FactorLine) throws(TwoStepError) {
        var r = FactorLineReader(line)
        count = Int(try r.integer(Key.count, in: 0...1_000_000_000))
        // 0 is how the fixed-width line says "none".
        lockedUntil = try r.optionalTime(Key.lockedUntil).flatMap { $0 == 0 ? nil : $0 }
        last = try r.optionalTime(Key.last).flatMap { $0 == 0 ? nil : $0 }
        lastAccepted = try r.optionalTime(Key.accepted).flatMap { $0 == 0 ? nil : $0 }
        try r.finish()
    }

    /// Writes the fields, each zero-padded to a fixed width (`count` 4 digits,
    /// times 10, 0 for none) so that a new count or time changes only digits
    /// in place, never the line's length (see `FactorStore`'s `InPlacePatch`).
    /// `accepted` is always written too: a file from before it gains it at
    /// its first write (one replace), then keeps its length.
    func write(to line: inout FactorLine) {
        line.append("count", Int64(count), width: 4)
        line.append("locked-until", lockedUntil ?? 0, width: 10)
        line.append("last", last ?? 0, width: 10)
        line.append("accepted", lastAccepted ?? 0, width: 10)
    }
}
