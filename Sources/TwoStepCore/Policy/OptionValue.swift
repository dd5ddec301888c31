/// Reading one option's value from its bytes, the same way wherever it was
/// written (a pam.d argument or a twostep.conf line). Every failure is an
/// `invalidParameter` whose text names the key and says what is allowed.
enum OptionValue {
    /// A whole number in `range`, digits only (no sign, no spaces).
    static func number(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>, in range: ClosedRange<Int>) throws(TwoStepError) -> Int {
        var n = 0
        var ok = !value.isEmpty && value.count <= 10
        if ok {
            for b in value {
                guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { ok = false; break }
                n = n * 10 + Int(b - UInt8(ascii: "0"))
            }
        }
        guard ok, range.contains(n) else {
            throw .invalidParameter("\(key.text) must be a whole number from \(range.lowerBound) to \(range.upperBound) (got '\(text(value))')")
        }
        return n
    }

    /// `yes` or `no`; nil (a bare name on a pam.d line) is yes.
    static func yesNo(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>?) throws(TwoStepError) -> Bool {
        guard let value else { return true }
        return try choice(key, value, "yes", "no") == 0
    }

    /// An absolute path (starts with `/`).
    static func absolutePath(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>, what: String = "path") throws(TwoStepError) -> String {
        guard value.first == UInt8(ascii: "/") else {
            throw .invalidParameter("\(key.text) must be an absolute \(what) (got '\(text(value))')")
        }
        return text(value)
    }

    /// The index of `value` among two or three words (exact); `c` nil
    /// for two. No array is made: this runs for file lines at every login.
    static func choice(_ key: ConfigurationKey, _ value: UnsafeBufferPointer<UInt8>,
                       _ a: StaticString, _ b: StaticString, _ c: StaticString? = nil) throws(TwoStepError) -> Int {
        if equal(value, a) { return 0 }
        if equal(value, b) { return 1 }
        if let c, equal(value, c) { return 2 }
        let list = c.map { "\(a), \(b) or \($0)" } ?? "\(a) or \(b)"
        throw .invalidParameter("\(key.text) must be \(list) (got '\(text(value))')")
    }

    private static func equal(_ value: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
        word.withUTF8Buffer { w in value.count == w.count && value.elementsEqual(w) }
    }

    /// The value as text. The caller has checked it is UTF-8 (a pam.d
    /// argument comes from a `String`; the file is checked line by line).
    static func text(_ value: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: value, as: UTF8.self)
    }
}
