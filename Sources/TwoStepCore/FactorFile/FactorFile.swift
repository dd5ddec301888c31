/// Everything twostep knows about one user: factors, trusted devices and
/// verification state. A value: the verifier takes one and returns a new one.
///
/// The text form (version 1, see `twostep-factors(5)`):
///
///     # twostep factor file: see twostep-factors(5)
///     twostep 1
///     failures count=0002 locked-until=0000000000 last=1764221000
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=… label=Phone created=1764220800 last-step=58807360
///     backup id=backup-1 salt=… hash=… created=1764220800
///     trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800
///     phone id=phone-1 number=+966501234534 channel=sms label=Mobile created=1764220800
///     pending id=pending-1 phone=phone-1 salt=… hash=… created=1764221000 expires=1764221300
///     sends times=1764221000
///
/// Lines are printable ASCII (values are %-encoded). Blank lines and lines
/// starting with `#` are ignored. The `twostep` line
/// comes first; every other line starts with a known keyword and carries
/// exactly the fields that keyword defines.
public struct FactorFile: Sendable, Equatable {
    /// The version this code reads and writes.
    public static let version = 1

    /// The kinds of factor a file can hold, by line keyword.
    public static let kinds: [any Factor.Type] = [TOTPAuthenticator.self, BackupCode.self, Phone.self, PendingCode.self]

    /// Every factor, in file order.
    public var factors: [any Factor]
    /// Devices the user chose to trust.
    public var trustedDevices: [TrustedDevice]
    /// Wrong codes in a row and any lock-out.
    public var failures: FailureState
    /// Recent codes sent to phones, for the send limit.
    public var sends: SendLog

    public init(factors: [any Factor] = [], trustedDevices: [TrustedDevice] = [], failures: FailureState = FailureState(),
                sends: SendLog = SendLog()) {
        self.factors = factors
        self.trustedDevices = trustedDevices
        self.failures = failures
        self.sends = sends
    }

    /// Files are equal when they write the same text.
    public static func == (a: FactorFile, b: FactorFile) -> Bool { a.text == b.text }

    /// The factors of one kind.
    public func factors<F: Factor>(of type: F.Type) -> [F] { factors.compactMap { $0 as? F } }

    /// The authenticator apps.
    public var authenticators: [TOTPAuthenticator] { factors(of: TOTPAuthenticator.self) }
    /// The unused backup codes.
    public var backupCodes: [BackupCode] { factors(of: BackupCode.self) }

    /// Two-step verification is on when the user has at least one factor
    /// that is a way in (a pending code alone is not).
    public var isEnabled: Bool { factors.contains { type(of: $0).isMethod } }

    /// The next free id `PREFIX-N`.
    public func nextID(prefix: String) -> String {
        let used = Set(factors.map(\.id) + trustedDevices.map(\.id))
        var n = 1
        while used.contains("\(prefix)-\(n)") { n += 1 }
        return "\(prefix)-\(n)"
    }

    // MARK: Text form

    /// The file's text, ending in a newline.
    public var text: String {
        // The failures line comes first and always, at a fixed width, so that
        // counting a wrong code changes a few bytes near the start of the file
        // (FactorStore writes such a change in place: InPlacePatch).
        var lines = ["# twostep factor file: see twostep-factors(5). Edit with the twostep command.",
                     "twostep \(Self.version)", failures.record.text]
        for factor in factors {
            var r = Record(keyword: type(of: factor).keyword)
            factor.write(to: &r)
            lines.append(r.text)
        }
        lines += trustedDevices.map(\.record.text)
        if !sends.isEmpty { lines.append(sends.record.text) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses the text form. Strict: an unknown version or keyword, a
    /// malformed or incomplete line, an unknown field, a duplicate id or a
    /// second `twostep`/`failures`/`sends` line is an error naming the line number.
    public init(parsing text: String) throws(TwoStepError) {
        factors = []
        trustedDevices = []
        failures = FailureState()
        sends = SendLog()
        var sawVersion = false
        var sawFailures = false
        var sawSends = false
        var ids = Set<String>()
        var lineNumber = 0
        // Split on the newline byte: Swift's Character view would treat
        // "\r\n" as one character and join lines.
        for bytes in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Substring(bytes)
            if line.isEmpty || line.first == "#" { continue }
            // The writer %-encodes everything else, so a line is printable ASCII.
            guard line.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
                throw .malformedFile(line: lineNumber, reason: "control character or non-ASCII byte in the line")
            }
            if line.hasPrefix("twostep ") || line == "twostep" {
                guard !sawVersion else { throw .malformedFile(line: lineNumber, reason: "a second 'twostep' version line") }
                let version = line.dropFirst("twostep ".count)
                guard version == String(Self.version) else {
                    throw .malformedFile(line: lineNumber, reason: "unsupported version '\(version.prefix(10))' (this twostep reads version \(Self.version))")
                }
                sawVersion = true
                continue
            }
            let record = try Record(parsing: line, line: lineNumber)
            guard sawVersion else {
                throw .malformedFile(line: lineNumber, reason: "the file must start with 'twostep \(Self.version)'")
            }
            var id: String?
            switch record.keyword {
            case FailureState.keyword:
                guard !sawFailures else { throw .malformedFile(line: lineNumber, reason: "a second 'failures' line") }
                sawFailures = true
                failures = try FailureState(record)
            case SendLog.keyword:
                guard !sawSends else { throw .malformedFile(line: lineNumber, reason: "a second 'sends' line") }
                sawSends = true
                sends = try SendLog(record)
            case TrustedDevice.keyword:
                let device = try TrustedDevice(record)
                id = device.id
                trustedDevices.append(device)
            default:
                guard let kind = Self.kinds.first(where: { $0.keyword == record.keyword }) else {
                    throw .malformedFile(line: lineNumber, reason: "unknown keyword '\(record.keyword.prefix(20))'")
                }
                var reader = RecordReader(record)
                let factor = try kind.init(from: &reader)
                id = factor.id
                factors.append(factor)
            }
            if let id {
                guard Self.isValidID(id) else { throw .malformedFile(line: lineNumber, reason: "id '\(id.prefix(20))' is not letters, digits and '-'") }
                guard ids.insert(id).inserted else { throw .malformedFile(line: lineNumber, reason: "id '\(id)' is used twice") }
            }
        }
        guard sawVersion else { throw .malformedFile(line: max(lineNumber, 1), reason: "no 'twostep \(Self.version)' version line") }
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy {
            PercentEncoding.isUnreserved($0) && $0 != UInt8(ascii: "~")
        }
    }
}
