/// A phone number in E.164 form: `+`, the country calling code ("region
/// code"), then the subscriber number, 8 to 15 digits in all.
///
/// Input may group digits with spaces, dashes, dots or brackets
/// (`+966 50-123 4534`); the stored form is `+` and the digits only.
public struct PhoneNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The number as stored and as given to channels, e.g. `+966501234534`.
    public let e164: String

    /// Fewest and most digits, country code included (ITU-T E.164).
    public static let digitRange = 8...15

    /// Reads a number typed by a person. Throws `invalidParameter` with a
    /// message that says what to fix (always mentioning the region code).
    public init(parsing text: String) throws(TwoStepError) {
        let trimmed = text.utf8.drop(while: { $0 == UInt8(ascii: " ") })
        guard let first = trimmed.first else {
            throw .invalidParameter("no phone number given: write it with its region code, e.g. +44 7700 900123")
        }
        guard first == UInt8(ascii: "+") else {
            throw .invalidParameter(
                "'\(Self.shown(text))' does not start with '+': include the region code (country calling code), e.g. +44 7700 900123 rather than 07700 900123")
        }
        var digits = [UInt8]()
        for byte in trimmed.dropFirst() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte)
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"): continue
            default:
                throw .invalidParameter(
                    "'\(Self.shown(text))' is not a phone number: after the '+' and the region code only digits may follow (spaces, dashes, dots and brackets are ignored)")
            }
        }
        guard let lead = digits.first, lead != UInt8(ascii: "0") else {
            throw .invalidParameter("'\(Self.shown(text))' has no region code after the '+': include the region code, e.g. +44 7700 900123")
        }
        guard Self.digitRange.contains(digits.count) else {
            let problem = digits.count < Self.digitRange.lowerBound ? "too short" : "too long"
            throw .invalidParameter(
                "'\(Self.shown(text))' is \(problem): an international number has \(Self.digitRange.lowerBound) to \(Self.digitRange.upperBound) digits; include the region code and the whole number, e.g. +44 7700 900123")
        }
        e164 = "+" + String(decoding: digits, as: UTF8.self)
    }

    public var description: String { e164 }

    /// The country calling code, e.g. `966`. Codes are prefix-free: `1`
    /// and `7` are one digit, the two-digit ones are listed, the rest have three.
    public var countryCode: String {
        let digits = e164.utf8.dropFirst()
        if let first = digits.first, first == UInt8(ascii: "1") || first == UInt8(ascii: "7") {
            return String(decoding: digits.prefix(1), as: UTF8.self)
        }
        let two = String(decoding: digits.prefix(2), as: UTF8.self)
        if Self.twoDigitCodes.contains(two) { return two }
        return String(decoding: digits.prefix(3), as: UTF8.self)
    }

    /// The number as shown in menus and listings: the region code and the
    /// last two digits, the rest hidden behind a fixed-width mask so the
    /// length does not show either: `+966 ••• ••34`.
    public var masked: String {
        "+\(countryCode) ••• ••\(String(e164.suffix(2)))"
    }

    /// Two-digit country calling codes (ITU-T E.164 assignments).
    static let twoDigitCodes: Set<String> = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
        "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ]

    /// The input as quoted back in an error: printable ASCII, at most 32 characters.
    private static func shown(_ text: String) -> String {
        String(text.unicodeScalars.prefix(32).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : "?" })
    }
}

/// How a channel reaches a phone; also the name of the channel plugin.
public enum ChannelKind: String, Sendable, CaseIterable, Equatable {
    case sms
    case voice

    /// "SMS", "voice call": how the user reads it.
    public var displayName: String {
        switch self {
        case .sms: "SMS"
        case .voice: "voice call"
        }
    }
}
