/// The factor file's location as an administrator writes it (`store=` module
/// option, `--store` CLI option): `%u` is the user name, `%h` the home
/// directory, `%%` a percent sign.
public struct StorePathTemplate: Sendable, Equatable {
    /// The default, `%h/.twostep`.
    public static let standard = StorePathTemplate(unchecked: "%h/.twostep")

    /// `store=twostepd` (SPEC §9): no file; the records are twostepd's
    /// (in its database), reached over its sockets.
    public static let daemon = StorePathTemplate(unchecked: "twostepd")

    public let template: String

    /// True for `store=twostepd`.
    public var isDaemon: Bool { template == Self.daemon.template }

    /// True for a store in the home directory (`%h…`), which the user owns.
    public var isInHome: Bool { template.hasPrefix("%h") }

    /// Checks the template: absolute (or starting with `%h`), only `%u`, `%h`,
    /// `%%` escapes, and a file name after the last `/`; or `twostepd`.
    public init(_ template: String) throws(TwoStepError) {
        if template == Self.daemon.template {
            self = .daemon
            return
        }
        guard template.hasPrefix("/") || template.hasPrefix("%h") else {
            throw .invalidParameter("store path '\(template)' must be absolute or start with %h")
        }
        var chars = template.makeIterator()
        while let c = chars.next() {
            if c == "%" {
                guard let n = chars.next(), n == "u" || n == "h" || n == "%" else {
                    throw .invalidParameter("store path '\(template)': only %u, %h and %% may follow %")
                }
            }
        }
        guard !template.hasSuffix("/") else { throw .invalidParameter("store path '\(template)' names a directory, not a file") }
        self.template = template
    }

    private init(unchecked: String) { template = unchecked }

    /// The path for one user. Throws when the result would escape its
    /// directory (a user name or home with `..` or `/` where it matters).
    public func path(user: String, home: String) throws(TwoStepError) -> String {
        guard !isDaemon else { throw .invalidParameter("store=twostepd keeps no file: the records are twostepd's") }
        guard !user.isEmpty, !user.utf8.contains(UInt8(ascii: "/")), user != ".", user != ".." else {
            throw .invalidParameter("user name '\(user)' cannot be used in a path")
        }
        // Bytes, not Characters: this runs on every login.
        var out = [UInt8]()
        out.reserveCapacity(template.utf8.count + home.utf8.count + user.utf8.count)
        var chars = template.utf8.makeIterator()
        while let c = chars.next() {
            guard c == UInt8(ascii: "%") else { out.append(c); continue }
            switch chars.next() {
            case UInt8(ascii: "u"): ByteScan.append(user, to: &out)
            case UInt8(ascii: "h"): ByteScan.append(home, to: &out)
            default: out.append(c)
            }
        }
        let path = String(decoding: out, as: UTF8.self)
        guard out.first == UInt8(ascii: "/") else { throw .invalidParameter("store path '\(path)' is not absolute (home directory '\(home)')") }
        guard !Self.hasDotDotComponent(out) else { throw .invalidParameter("store path '\(path)' contains '..'") }
        return path
    }

    /// True when some `/`-separated component of `path` is `..`.
    static func hasDotDotComponent(_ path: [UInt8]) -> Bool {
        var start = 0
        for i in 0...path.count where i == path.count || path[i] == UInt8(ascii: "/") {
            if i - start == 2, path[start] == UInt8(ascii: "."), path[start + 1] == UInt8(ascii: ".") { return true }
            start = i + 1
        }
        return false
    }
}
