/// Everything twostep knows about one user: factors, trusted devices and
/// verification state. A value: the verifier takes one and returns a new one.
///
/// The text form (version 1, see `twostep-factors(5)`):
///
///     # twostep factor file: see twostep-factors(5)
///     twostep 1
///     failures count=0002 locked-until=0000000000 last=1764221000 accepted=1764220815
///     totp id=totp-1 algorithm=SHA1 digits=6 period=30 secret=… label=Phone created=1764220800 last-step=58807360
///     backup id=backup-1 salt=… hash=… created=1764220800
///     trust id=trust-1 service=sshd rhost=192.0.2.7 created=1764220800 expires=1766812800
///     phone id=phone-1 number=+966501234534 channel=sms label=Mobile created=1764220800
///     pending id=pending-1 phone=phone-1 salt=… hash=… created=1764221000 expires=1764221300
///     sshkey id=key-1 type=sk-ssh-ed25519@openssh.com key=AAAAGnNr…c3NoOg label=YubiKey created=1764220800 last-used=1764221000
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
    public static let kinds: [any Factor.Type] = [
        TOTPAuthenticator.self, BackupCode.self, Phone.self, PendingCode.self, SecurityKey.self,
    ]

    /// Every factor, in file order.
    public var factors: [any Factor]
    /// Devices the user chose to trust.
    public var trustedDevices: [TrustedDevice]
    /// Wrong codes in a row and any lock-out.
    public var failures: FailureState
    /// Recent codes sent to phones, for the send limit.
    public var sends: SendLog
    /// Where each factor and trusted device of a parsed file was in its text
    /// (nil for a file made in memory); see `bytes(reusingLinesOf:in:)`.
    /// Not part of the value: files are equal when they write the same text.
    var source: SourceLines?

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
    public func factors<F: Factor>(of type: F.Type) -> [F] {
        // Factor kinds are structs, so a kind is its exact type: comparing
        // metatypes first spares a dynamic cast of every other factor.
        factors.compactMap { Swift.type(of: $0) == F.self ? $0 as? F : nil }
    }

    /// True when some factor is of kind `type`.
    public func has<F: Factor>(_ type: F.Type) -> Bool { factors.contains { Swift.type(of: $0) == F.self } }

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

    /// The first two lines of every file.
    static let header = "# twostep factor file: see twostep-factors(5). Edit with the twostep command."
    static let versionLine = "twostep \(version)"

    /// The file's text, ending in a newline.
    public var text: String {
        var lines = LineBuffer(capacity: 220 + 200 * factors.count + 160 * trustedDevices.count + 12 * sends.times.count)
        lines.append(Self.header)
        lines.append(Self.versionLine)
        // The failures line comes first and always, at a fixed width, so that
        // counting a wrong code changes a few bytes near the start of the file
        // (FactorStore writes such a change in place: InPlacePatch).
        lines.append(keyword: FailureState.keyword) { failures.write(to: &$0) }
        for factor in factors {
            lines.append(keyword: type(of: factor).keyword) { factor.write(to: &$0) }
        }
        for device in trustedDevices {
            lines.append(keyword: TrustedDevice.keyword) { device.write(to: &$0) }
        }
        if !sends.isEmpty { lines.append(sends.line.text) }
        return lines.text
    }

    /// This file's text as bytes, for a file that is a changed copy of
    /// `original`, which was parsed from `originalBytes`: a factor or trusted
    /// device that is the same as the one at its place in `original` is
    /// copied from `originalBytes` instead of being written again (for a file
    /// in the writer's form, the very bytes `text` would make). Saves
    /// encoding every backup code and trusted device when a login changes
    /// one step or count. Without line places for `original`, or with a
    /// different number of records, it is `text`.
    public func bytes(reusingLinesOf original: FactorFile, in originalBytes: [UInt8]) -> [UInt8] {
        guard let source = original.source, source.factors.count == original.factors.count,
              source.trustedDevices.count == original.trustedDevices.count,
              source.upperBound <= originalBytes.count
        else { return Array(text.utf8) }
        var lines = LineBuffer(capacity: originalBytes.count + 64)
        lines.append(Self.header)
        lines.append(Self.versionLine)
        lines.append(keyword: FailureState.keyword) { failures.write(to: &$0) }
        // Arrays that still share the original's storage were never changed
        // (a change copies them first): every element is the same, with no
        // need to compare (a wrong code changes only the failures line).
        let sameFactors = Self.sharesStorage(factors, original.factors)
        let sameDevices = Self.sharesStorage(trustedDevices, original.trustedDevices)
        for (i, factor) in factors.enumerated() {
            if i < original.factors.count, sameFactors || factor.isSame(as: original.factors[i]) {
                lines.append(line: originalBytes[source.factors[i].range])
            } else {
                lines.append(keyword: type(of: factor).keyword) { factor.write(to: &$0) }
            }
        }
        for (i, device) in trustedDevices.enumerated() {
            if i < original.trustedDevices.count, sameDevices || device == original.trustedDevices[i] {
                lines.append(line: originalBytes[source.trustedDevices[i].range])
            } else {
                lines.append(keyword: TrustedDevice.keyword) { device.write(to: &$0) }
            }
        }
        if !sends.isEmpty { lines.append(sends.line.text) }
        return lines.takeBytes()
    }

    /// True when `a` and `b` are one array buffer (copies of one value that
    /// neither changed since): then they hold the same elements.
    static func sharesStorage<T>(_ a: [T], _ b: [T]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }

    /// Parses the text form. Strict: an unknown version or keyword, a
    /// malformed or incomplete line, an unknown field, a duplicate id or a
    /// second `twostep`/`failures`/`sends` line is an error naming the line number.
    public init(parsing text: String) throws(TwoStepError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Parses the text form from its UTF-8 bytes (as read from the file;
    /// the caller checks that they are UTF-8). The same rules as
    /// `init(parsing:)` with a string.
    public init(parsing bytes: [UInt8]) throws(TwoStepError) {
        var parser = FactorFileParser()
        // Lines are cut at the newline byte: Swift's Character view would
        // treat "\r\n" as one character and join lines.
        let lines = try bytes.withUnsafeBufferPointer { buffer throws(TwoStepError) in
            var start = 0
            var lineNumber = 0
            while true {
                lineNumber += 1
                let end = ByteScan.firstIndex(of: UInt8(ascii: "\n"), in: buffer, from: start)
                try parser.read(bytes, buffer, line: start..<end, number: lineNumber)
                guard end < buffer.count else { return lineNumber }
                start = end + 1
            }
        }
        self = try parser.finish(lines: lines)
    }

    static func isValidID(_ id: String) -> Bool {
        guard !id.isEmpty && id.utf8.count <= 64 else { return false }
        let valid = id.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isIDByte) }
        return valid ?? id.utf8.allSatisfy(isIDByte)
    }

    /// Letters, digits, `-`, `.` and `_`.
    private static func isIDByte(_ b: UInt8) -> Bool {
        PercentEncoding.isUnreserved(b) && b != UInt8(ascii: "~")
    }
}
