/// The authentication methods an SSH login completed, as sshd reports them
/// in `SSH_AUTH_INFO_0` (OpenSSH 9.2, `auth2.c`): one line per method,
/// each ending in a newline,
///
///     method[/submethod][ KEYTYPE BASE64][ info]
///
/// e.g. `publickey sk-ssh-ed25519@openssh.com AAAAGnNr…` then, in the
/// session stack, `keyboard-interactive/pam`. sshd puts it into the PAM
/// environment itself (`ExposeAuthInfo` does not matter); the auth stack
/// sees only the methods completed before the one PAM is running.
///
/// Strict: a value that is not exactly what sshd writes (a missing final
/// newline, an empty line, a doubled space, a method name with odd
/// characters, a key whose Base64 text is not canonical or whose blob
/// names another type) is refused whole, and sizes are capped. An empty
/// value (what the auth stack sees before any method completed, or in
/// `password` authentication) lists no methods.
public struct SSHAuthInfo: Sendable, Equatable {
    /// A public key that a method used: its type name and its blob.
    public struct Key: Sendable, Equatable {
        /// The key type as sshd wrote it (any OpenSSH type).
        public let type: String
        /// The key blob (decoded from the Base64 text).
        public let blob: [UInt8]

        /// `SHA256:…`, as `ssh-keygen -l` and sshd's log print it.
        public var fingerprint: String { SSHPublicKey.fingerprint(blob: blob) }
    }

    /// One completed method.
    public struct Method: Sendable, Equatable {
        /// `publickey`, `keyboard-interactive`, `password`, `hostbased`, …
        public let name: String
        /// The part after `/` (`pam` in `keyboard-interactive/pam`), if any.
        public let submethod: String?
        /// The key of a `publickey` or `hostbased` method.
        public let key: Key?
        /// Text sshd adds after the key or the method (certificate details), if any.
        public let info: String?
    }

    /// The completed methods, in the order sshd completed them.
    public let methods: [Method]

    /// Longest value read, in bytes.
    public static let maxBytes = 32 * 1024
    /// Most methods (lines) in one value.
    public static let maxMethods = 32
    /// Longest method or submethod name.
    static let maxNameBytes = 64

    /// Methods whose line carries `KEYTYPE BASE64`.
    static let keyMethods: Set<String> = ["publickey", "hostbased"]

    /// Parses an `SSH_AUTH_INFO_0` value.
    public init(parsing value: String) throws(SecurityKeyError) {
        let length = value.utf8.count
        guard length <= Self.maxBytes else { throw .authInfoTooLong(bytes: length, limit: Self.maxBytes) }
        let bytes = Array(value.utf8)
        var methods = [Method]()
        var start = 0, line = 1
        while start < bytes.count {
            guard methods.count < Self.maxMethods else { throw .tooManyMethods(limit: Self.maxMethods) }
            let newline = bytes[start...].firstIndex(of: 0x0A)
            guard let end = newline else { throw .malformedAuthInfo(line: line, reason: "no newline at the end") }
            methods.append(try Self.method(bytes[start..<end], line: line))
            start = end + 1
            line += 1
        }
        self.methods = methods
    }

    /// The key blobs of the completed `publickey` methods, in order.
    public var publicKeyBlobs: [[UInt8]] {
        methods.compactMap { $0.name == "publickey" ? $0.key?.blob : nil }
    }

    /// The key of the last completed `publickey` method: the one that
    /// identifies the device for trusted devices (`trust_by=key`).
    public var lastPublicKey: Key? {
        methods.last { $0.name == "publickey" && $0.key != nil }?.key
    }

    /// The security keys among the completed `publickey` methods, in order
    /// (every key of an sk type: the parser has already read each in full).
    public var securityKeys: [SSHPublicKey] {
        methods.compactMap { m in
            guard m.name == "publickey", let key = m.key, SecurityKeyType(bytes: key.type.utf8) != nil else { return nil }
            return try? SSHPublicKey(blob: key.blob)
        }
    }

    /// The value as sshd writes it: parsing it gives these methods again,
    /// and a value that parsed is exactly this text.
    public var text: String {
        var out = ""
        for m in methods {
            out += m.name
            if let sub = m.submethod { out += "/" + sub }
            if let key = m.key { out += " " + key.type + " " + Base64.encode(key.blob) }
            if let info = m.info { out += " " + info }
            out += "\n"
        }
        return out
    }

    private static func method(_ line: ArraySlice<UInt8>, line number: Int) throws(SecurityKeyError) -> Method {
        func fail(_ why: String) -> SecurityKeyError { .malformedAuthInfo(line: number, reason: why) }
        if let bad = line.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw fail("a control character at byte \(bad - line.startIndex + 1)")
        }
        var words = line.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: false)
        let head = words.removeFirst()
        guard !head.isEmpty else { throw fail(line.isEmpty ? "an empty line" : "it begins with a space") }
        let parts = head.split(separator: UInt8(ascii: "/"), maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0], sub = parts.count > 1 ? parts[1] : nil
        guard isName(name), sub.map(isName) ?? true else {
            throw fail("\(SecurityKeyError.quoted(String(decoding: head, as: UTF8.self))) is not a method name")
        }
        let methodName = String(decoding: name, as: UTF8.self)
        var rest = words.first
        var key: Key?
        if keyMethods.contains(methodName) {
            guard let text = rest else { throw fail("\(methodName) without its key") }
            let fields = text.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw fail("\(methodName) needs 'KEYTYPE BASE64'")
            }
            let type = String(decoding: fields[0], as: UTF8.self)
            guard isName(fields[0]) else { throw fail("\(SecurityKeyError.quoted(type)) is not a key type") }
            let blob: [UInt8]
            do { blob = try SSHPublicKey.decodeBlob(fields[1]) } catch { throw fail("\(error)") }
            var reader = SSHWireReader(blob)
            let inner: ArraySlice<UInt8>
            do { inner = try reader.string("type") } catch { throw fail("\(error)") }
            guard inner.elementsEqual(fields[0]) else {
                throw fail(SecurityKeyError.typeMismatch(outer: type, inner: String(decoding: inner, as: UTF8.self)).description)
            }
            if SecurityKeyType(bytes: fields[0]) != nil {
                do { _ = try SSHPublicKey(blob: blob) } catch { throw fail("\(error)") }
            }
            key = Key(type: type, blob: blob)
            rest = fields.count > 2 ? fields[2] : nil
        }
        if let info = rest, info.isEmpty || info.first == UInt8(ascii: " ") || info.last == UInt8(ascii: " ") {
            throw fail("stray spaces")
        }
        return Method(name: methodName, submethod: sub.map { String(decoding: $0, as: UTF8.self) }, key: key,
                      info: rest.map { String(decoding: $0, as: UTF8.self) })
    }

    /// A method, submethod or key type name: 1 to 64 of `a–z A–Z 0–9 - _ . @`.
    private static func isName(_ word: ArraySlice<UInt8>) -> Bool {
        (1...maxNameBytes).contains(word.count) && word.allSatisfy { c in
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "@"):
                true
            default:
                false
            }
        }
    }
}
