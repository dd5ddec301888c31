/// The factor file's location as an administrator writes it (`store=` module
/// option, `--store` CLI option): `%u` is the user name, `%h` the home
/// directory, `%%` a percent sign.
public struct StorePathTemplate: Sendable, Equatable {
    /// The default, `%h/.twostep`.
    public static let standard = StorePathTemplate(unchecked: "%h/.twostep")

    public let template: String

    /// Checks the template: absolute (or starting with `%h`), only `%u`, `%h`,
    /// `%%` escapes, and a file name after the last `/`.
    public init(_ template: String) throws(TwoStepError) {
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
        guard !user.isEmpty, !user.contains("/"), user != ".", user != ".." else {
            throw .invalidParameter("user name '\(user)' cannot be used in a path")
        }
        var out = ""
        var chars = template.makeIterator()
        while let c = chars.next() {
            guard c == "%" else { out.append(c); continue }
            switch chars.next() {
            case "u": out += user
            case "h": out += home
            default: out.append("%")
            }
        }
        guard out.hasPrefix("/") else { throw .invalidParameter("store path '\(out)' is not absolute (home directory '\(home)')") }
        guard !out.split(separator: "/").contains(where: { $0 == ".." }) else {
            throw .invalidParameter("store path '\(out)' contains '..'")
        }
        return out
    }
}
