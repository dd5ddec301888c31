/// How an authenticator makes its codes: hash, number of digits, time step.
public struct OTPParameters: Sendable, Equatable {
    /// The HMAC hash (default SHA1, what every authenticator app supports).
    public var algorithm: OTPAlgorithm
    /// Code length, 6 to 8 digits.
    public var digits: Int
    /// Time step in seconds, 1 to 300 (default 30).
    public var period: Int

    /// The parameters Google and Microsoft Authenticator assume when none are given.
    public static let standard = OTPParameters(uncheckedAlgorithm: .sha1, digits: 6, period: 30)

    /// The allowed range of `digits`.
    public static let digitRange = 6...8
    /// The allowed range of `period`.
    public static let periodRange = 1...300

    /// Checked parameters: throws `invalidParameter` outside the ranges above.
    public init(algorithm: OTPAlgorithm, digits: Int, period: Int) throws(TwoStepError) {
        guard Self.digitRange.contains(digits) else {
            throw .invalidParameter("digits must be 6, 7 or 8 (got \(digits))")
        }
        guard Self.periodRange.contains(period) else {
            throw .invalidParameter("period must be 1 to 300 seconds (got \(period))")
        }
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    private init(uncheckedAlgorithm: OTPAlgorithm, digits: Int, period: Int) {
        self.algorithm = uncheckedAlgorithm
        self.digits = digits
        self.period = period
    }
}

