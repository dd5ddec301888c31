/// What a note and a session record both say: who passed which second
/// step, and when. Fields `user= uid= factor= verified=`.
public struct SessionVerification: Sendable, Equatable {
    public var user: String
    public var uid: UInt32
    public var factor: SessionFactor
    /// When the second step was accepted, Unix seconds.
    public var verified: Int64

    public init(user: String, uid: UInt32, factor: SessionFactor, verified: Int64) {
        self.user = user
        self.uid = uid
        self.factor = factor
        self.verified = verified
    }

    private enum Key {
        static let user: FieldKey = "user"
        static let uid: FieldKey = "uid"
        static let factor: FieldKey = "factor"
        static let verified: FieldKey = "verified"
    }

    /// Appends the fields to `line`.
    func write(to line: inout FactorLine) {
        line.append("user", user)
        line.append("uid", uid)
        line.append("factor", factor.rawValue)
        line.append("verified", verified)
    }

    /// Reads the fields from `r`.
    init(reading r: inout FactorLineReader) throws(TwoStepError) {
        user = try r.required(Key.user)
        uid = UInt32(try r.integer(Key.uid, in: 0...Int64(UInt32.max - 1)))
        guard let factor = SessionFactor(rawValue: try r.required(Key.factor)) else { throw r.error("unknown factor") }
        self.factor = factor
        verified = try r.time(Key.verified)
    }
}
