/// The one rule for free text that twostep stores and later prints to a
/// terminal (labels, issuers; issue 19, item 6), and the one escaping of
/// whatever a record holds on its way to a terminal.
///
/// Refused: C0 and C1 controls and DEL (terminal escape sequences), the
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069: they reorder what follows, so text reads other than it
/// is), the line and paragraph separators, and invisible characters that
/// make two different texts look alike (zero-width space, word joiner,
/// invisible operators, soft hyphen, byte order mark, the Hangul fillers,
/// tag characters, interlinear annotations, deprecated format controls).
/// Allowed, being ordinary in right-to-left scripts and in emoji: the
/// left-to-right, right-to-left and Arabic letter marks (U+200E, U+200F,
/// U+061C) and the zero-width joiner and non-joiner (U+200D, U+200C).
public enum PrintableText {
    /// Most characters in a label.
    public static let maxLabelCharacters = 64
    /// Most UTF-8 bytes in a label: a "character" may hold any number of
    /// combining marks.
    public static let maxLabelBytes = 256

    /// True for a scalar that free text may not hold, and that `escaped` escapes.
    public static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F:  // C0, DEL, C1
            true
        case 0xAD, 0x115F, 0x1160, 0x180E, 0x3164, 0xFFA0:  // soft hyphen, fillers, Mongolian vowel separator
            true
        case 0x200B, 0x2028, 0x2029, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x206F:
            true  // zero-width space, separators, embeddings/overrides, word joiner, invisible operators, isolates
        case 0xFEFF, 0xFFF9...0xFFFB, 0xE0000...0xE007F:  // BOM, interlinear annotation, tags
            true
        default:
            false
        }
    }

    /// Why `text` is no acceptable label (`what` names it in the reason),
    /// or nil: 1 to `maxLabelCharacters` characters, at most
    /// `maxLabelBytes` UTF-8 bytes, no refused character.
    public static func problem(inLabel text: String, what: String = "a label") -> String? {
        guard (1...maxLabelCharacters).contains(text.count), text.utf8.count <= maxLabelBytes else {
            return "\(what) must be 1 to \(maxLabelCharacters) printable characters (at most \(maxLabelBytes) bytes in UTF-8)"
        }
        return problem(in: text, what: what)
    }

    /// Why `text` may not be stored (`what` names it), or nil when it
    /// holds no refused character; the reason shows the first one escaped.
    public static func problem(in text: String, what: String) -> String? {
        guard let bad = text.unicodeScalars.first(where: isRefused) else { return nil }
        return "\(what) must be printable: no control or invisible formatting characters (\(escape(bad)))"
    }

    /// `text` with every refused scalar written `\u{202E}`-style, so that
    /// it prints as what it holds and cannot drive the terminal. With
    /// `keepingLayout`, line feeds and tabs stay (for output the program
    /// itself laid out, e.g. a quoted configuration line; a value from a
    /// record is escaped whole). Neither drives a terminal.
    public static func escaped(_ text: String, keepingLayout: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: isRefused) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isRefused(scalar) && !(keepingLayout && (scalar == "\n" || scalar == "\t")) {
                out.append(contentsOf: escape(scalar).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// JSON text with every refused scalar written as a JSON `\u` escape
    /// (a surrogate pair beyond U+FFFF): the same value, as JSON reads it,
    /// with nothing in it that drives a terminal. Refused scalars occur
    /// only inside JSON strings, where the escape means the same scalar.
    public static func escapedJSON(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: isRefused) else { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            guard isRefused(scalar) else {
                out.append(scalar)
                continue
            }
            for unit in String(scalar).utf16 {
                out.append(contentsOf: ("\\u" + hex(UInt32(unit), width: 4)).unicodeScalars)
            }
        }
        return String(out)
    }

    /// `\u{1B}`: a scalar as Swift writes it.
    private static func escape(_ scalar: Unicode.Scalar) -> String {
        "\\u{" + hex(scalar.value, width: 1) + "}"
    }

    /// Upper-case hexadecimal, zero-padded to `width` digits.
    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
