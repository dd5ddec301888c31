import TwoStepCore

extension FactorFile {
    /// Parses a record as a store holds it (the factor file, a versioned
    /// store's text, twostepd's offline copy): the one way stored bytes
    /// become a `FactorFile`. Text that is not UTF-8 is `corrupt`, naming
    /// the line of the first byte that is not; every other parse error is
    /// `corrupt` with the parser's line and reason. `location` names the
    /// record in errors. The caller cleanses `bytes`; nothing here copies
    /// them but the parser, whose result is the caller's.
    public init(stored bytes: [UInt8], location: String) throws(StoreError) {
        // ASCII (what the writer writes) is UTF-8: no copy to check it.
        if !bytes.withUnsafeBufferPointer(ByteScan.isASCII), let line = Self.firstLineNotUTF8(bytes) {
            throw .corrupt(path: location, error: .malformedFile(line: line, reason: "not UTF-8 text"))
        }
        do {
            try self.init(parsing: bytes)
        } catch {
            throw .corrupt(path: location, error: error)
        }
    }

    /// `init(stored:location:)` of the bytes of `text`.
    public init(stored text: SecretBytes, location: String) throws(StoreError) {
        var bytes = text.withUnsafeBytes { [UInt8]($0) }
        defer { cleanse(&bytes) }
        try self.init(stored: bytes, location: location)
    }

    /// The 1-based line holding the first byte sequence that is not UTF-8;
    /// nil when all is UTF-8. A line end (0x0A) is never inside a UTF-8
    /// sequence, so each line can be checked alone.
    static func firstLineNotUTF8(_ bytes: [UInt8]) -> Int? {
        var line = 1
        for text in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            if String(validating: text, as: UTF8.self) == nil { return line }
            line += 1
        }
        return nil
    }
}
