/// The options in front of a key on an `authorized_keys` line
/// (sshd(8), AUTHORIZED_KEYS FILE FORMAT): `name` or `name="value"`,
/// separated by commas, ending at the first space or tab outside quotes.
///
/// Parsed as sshd 9.2 parses them (`auth-options.c`): names are
/// case-insensitive (kept here in lower case), a value is always in double
/// quotes and may hold spaces and commas, `\"` is a quote inside it (every
/// other backslash is kept as it is), and an option sshd does not know is
/// an error. What sshd checks further inside values (`from=` patterns,
/// `expiry-time=` dates, duplicate `command=`) is left to sshd: twostep
/// reads the flags that decide what a security key proves.
public struct AuthorizedKeyOptions: Sendable, Equatable {
    /// One option: its name in lower case, and its value when it takes one.
    public struct Option: Sendable, Equatable {
        public let name: String
        public let value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// Every option, in the order written.
    public private(set) var all: [Option] = []

    /// Most options on one line (sshd has no limit; a line is capped anyway).
    public static let maxOptions = 64

    /// The options sshd 9.2 knows that take no value.
    static let flags: Set<String> = [
        "restrict", "cert-authority", "verify-required", "no-touch-required",
        "port-forwarding", "no-port-forwarding", "agent-forwarding", "no-agent-forwarding",
        "x11-forwarding", "no-x11-forwarding", "pty", "no-pty", "user-rc", "no-user-rc",
    ]
    /// The options sshd 9.2 knows that take a quoted value.
    static let valued: Set<String> = [
        "command", "environment", "expiry-time", "from", "permitlisten", "permitopen", "principals", "tunnel",
    ]

    /// No options.
    public init() {}

    /// True when no option was given.
    public var isEmpty: Bool { all.isEmpty }

    /// `verify-required`: sshd refuses a signature made without user
    /// verification (a PIN or biometric) for this key.
    public var verifyRequired: Bool { contains("verify-required") }

    /// `no-touch-required`: sshd accepts a signature made without user
    /// presence (a touch) for this key, unless `PubkeyAuthOptions
    /// touch-required` says otherwise.
    public var noTouchRequired: Bool { contains("no-touch-required") }

    /// `cert-authority`: the key signs certificates; it is not a user's own key.
    public var certAuthority: Bool { contains("cert-authority") }

    /// `restrict`: every forwarding and the pty off unless allowed again.
    public var restrict: Bool { contains("restrict") }

    /// True when the option `name` (lower case) is present.
    public func contains(_ name: String) -> Bool {
        all.contains { $0.name == name }
    }

    /// The values of every `name="…"` option (lower-case name), in order.
    public func values(_ name: String) -> [String] {
        all.compactMap { $0.name == name ? $0.value : nil }
    }

    /// True for a word that names an option (in any case).
    static func isKnown(_ word: ArraySlice<UInt8>) -> Bool {
        let name = String(decoding: word.map(lowercased), as: UTF8.self)
        return flags.contains(name) || valued.contains(name)
    }

    /// Parses options from `bytes[start...]` up to the first space or tab
    /// outside quotes (or the end); returns them and where they end.
    static func parse(_ bytes: [UInt8], from start: Int) throws(SecurityKeyError) -> (AuthorizedKeyOptions, end: Int) {
        var options = AuthorizedKeyOptions()
        var i = start
        while true {
            let nameStart = i
            while i < bytes.count, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "="),
                  bytes[i] != UInt8(ascii: "\"") {
                i += 1
            }
            let raw = bytes[nameStart..<i]
            guard !raw.isEmpty else { throw .malformedOption("an empty option at byte \(i + 1)") }
            let name = String(decoding: raw.map(lowercased), as: UTF8.self)
            var value: String?
            if i < bytes.count, bytes[i] == UInt8(ascii: "=") {
                guard valued.contains(name) else {
                    throw flags.contains(name)
                        ? .malformedOption("\(SecurityKeyError.quoted(name)) takes no value")
                        : .unknownOption(String(decoding: raw, as: UTF8.self))
                }
                i += 1
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                    throw .malformedOption("the value of \(SecurityKeyError.quoted(name)) must be in double quotes")
                }
                i += 1
                var text = [UInt8]()
                while true {
                    guard i < bytes.count else {
                        throw .malformedOption("the value of \(SecurityKeyError.quoted(name)) has no closing quote")
                    }
                    let c = bytes[i]
                    if c == UInt8(ascii: "\"") { break }
                    if c == UInt8(ascii: "\\"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                        text.append(UInt8(ascii: "\""))
                        i += 2
                        continue
                    }
                    text.append(c)
                    i += 1
                }
                i += 1  // the closing quote
                value = String(decoding: text, as: UTF8.self)
            } else if !flags.contains(name) {
                throw valued.contains(name)
                    ? .malformedOption("\(SecurityKeyError.quoted(name)) needs a value (\(name)=\"…\")")
                    : .unknownOption(String(decoding: raw, as: UTF8.self))
            }
            guard options.all.count < maxOptions else { throw .tooManyOptions(limit: maxOptions) }
            options.all.append(Option(name: name, value: value))
            if i == bytes.count || isSpace(bytes[i]) { return (options, i) }
            guard bytes[i] == UInt8(ascii: ",") else {
                throw .malformedOption("a comma or a space must follow \(SecurityKeyError.quoted(name)) (byte \(i + 1))")
            }
            i += 1
            guard i < bytes.count, !isSpace(bytes[i]) else { throw .malformedOption("nothing after the last comma") }
        }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }

    private static func lowercased(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
    }
}
