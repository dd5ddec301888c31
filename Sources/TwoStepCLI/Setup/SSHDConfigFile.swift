import TwoStepCore
#if canImport(Glibc)
import Glibc
#endif

/// sshd_config read the way sshd reads it, to tell before anything is
/// written whether setup's drop-in can win: sshd reads the main file from
/// the top, expands each `Include` where it stands (relative patterns are
/// in /etc/ssh; the matches in sorted order), and for most options the
/// first value it meets is the one it uses. So a `KbdInteractiveAuthentication
/// no` above `Include /etc/ssh/sshd_config.d/*.conf`, or in a drop-in that
/// sorts before twostep.conf, beats setup's `yes`.
struct SSHDConfigFile {
    /// One option line, where sshd meets it.
    struct Line {
        var file: String
        var number: Int
        /// The keyword in lower case (as `sshd -T` prints it).
        var keyword: String
        var arguments: [String]
        var text: String
        /// Inside a `Match` block: it applies to some connections only.
        var inMatch: Bool
    }

    /// A reason the drop-in would not be in force.
    struct Conflict {
        var setting: String
        var value: String
        /// The line that wins instead; nil when the drop-in is not included at all.
        var line: Line?
    }

    /// Where sshd looks for relative Include patterns (its SSHDIR).
    static let sshDirectory = "/etc/ssh"

    /// Keywords sshd reads as the same option (`sshd -T` prints the first).
    static let aliases: [String: [String]] = [
        "kbdinteractiveauthentication": ["kbdinteractiveauthentication", "challengeresponseauthentication"],
    ]

    /// The lines of `main` in sshd's order, with `dropIn` read from `dropInText`
    /// (what setup will write) wherever an Include pattern matches its path.
    /// Returns the lines and whether the drop-in was included.
    static func lines(main: String, dropIn: String, dropInText: String) throws(CLIError) -> (lines: [Line], included: Bool) {
        var reader = Reader(dropIn: dropIn, dropInText: dropInText)
        try reader.read(main, depth: 0, inMatch: false)
        return (reader.lines, reader.included)
    }

    /// Why the drop-in's settings would not be the ones sshd uses, and
    /// the Match blocks that override them for some connections.
    static func check(main: String, dropIn: String, setUp: SSHDDropIn) throws(CLIError) -> (conflicts: [Conflict], matchOverrides: [Line]) {
        let (lines, included) = try lines(main: main, dropIn: dropIn, dropInText: setUp.text)
        var conflicts = [Conflict]()
        var overrides = [Line]()
        for (name, value) in setUp.settings {
            let key = name.lowercased()
            let names = aliases[key] ?? [key]
            if !included {
                conflicts.append(Conflict(setting: name, value: value, line: nil))
                continue
            }
            let first = lines.first { !$0.inMatch && names.contains($0.keyword) }
            if let first, first.file != dropIn {
                conflicts.append(Conflict(setting: name, value: value, line: first))
            }
            overrides += lines.filter { $0.inMatch && names.contains($0.keyword) }
        }
        return (conflicts, overrides)
    }

    /// An `AuthenticationMethods` line that lets a connection log in
    /// without publickey first: `any`, or a list with an alternative that
    /// does not begin with publickey (`password`, `keyboard-interactive`,
    /// `publickey password`). With --method publickey the PAM stack checks
    /// no password, so such a line opens the door.
    static func skipsKey(_ line: Line) -> Bool {
        guard line.keyword == "authenticationmethods" else { return false }
        if line.arguments.isEmpty { return true }
        return line.arguments.contains { alternative in
            alternative == "any" || alternative.split(separator: ",", omittingEmptySubsequences: false).first != "publickey"
        }
    }

    /// A `PubkeyAuthOptions` line (in a Match block) that takes away a
    /// flag `policy` relies on: `none`, or `touch-required` alone when
    /// `verify` is asked. sshd uses the block's value for the connections
    /// it matches, so an enrolled key would count there without it.
    static func weakensKeyOptions(_ line: Line, for policy: SecurityKeyPolicy) -> Bool {
        line.keyword == "pubkeyauthoptions" && !SSHDDropIn.missingKeyOptions(policy, in: line.arguments).isEmpty
    }

    /// The first `Include` line of `main` (for the advice "move it below line N").
    static func firstInclude(in lines: [Line], main: String) -> Line? {
        lines.first { $0.file == main && $0.keyword == "include" }
    }

    private struct Reader {
        let dropIn: String
        let dropInText: String
        var lines: [Line] = []
        var included = false

        mutating func read(_ path: String, depth: Int, inMatch: Bool) throws(CLIError) {
            guard depth < 16 else { throw .failure("\(path): too many nested Include lines") }
            let text: String
            if path == dropIn {
                included = true
                text = dropInText
            } else {
                let file = try SetupFile.read(path)
                guard file.exists else {
                    if depth == 0 { throw .failure("\(path) does not exist: is openssh-server installed?") }
                    return
                }
                text = file.text
            }
            var inMatch = inMatch
            var number = 0
            for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
                number += 1
                guard let (keyword, arguments) = Self.parse(raw) else { continue }
                let line = Line(file: path, number: number, keyword: keyword, arguments: arguments,
                                text: String(raw.drop(while: { $0 == " " || $0 == "\t" })), inMatch: inMatch)
                switch keyword {
                case "match":
                    inMatch = true
                    lines.append(line)
                case "include":
                    lines.append(line)
                    for pattern in arguments {
                        for file in expand(pattern) { try read(file, depth: depth + 1, inMatch: inMatch) }
                    }
                default:
                    lines.append(line)
                }
            }
        }

        /// The files an Include pattern names, sorted, with the drop-in
        /// among them when the pattern matches its path (it may not exist yet).
        func expand(_ pattern: String) -> [String] {
            let full = pattern.hasPrefix("/") ? pattern : SSHDConfigFile.sshDirectory + "/" + pattern
            var found = glob_t()
            defer { globfree(&found) }
            var files = [String]()
            if glob(full, 0, nil, &found) == 0 {
                for i in 0..<Int(found.gl_pathc) {
                    if let p = found.gl_pathv[i] { files.append(String(cString: p)) }
                }
            }
            if !files.contains(dropIn) && fnmatch(full, dropIn, FNM_PATHNAME) == 0 {
                files.append(dropIn)
                files.sort { strcmp($0, $1) < 0 }
            }
            return files
        }

        /// The keyword (lower case) and arguments of an option line; nil
        /// for blank lines and comments. As sshd: the keyword may be
        /// followed by `=`, arguments may be "quoted", and `#` starts a
        /// comment after them.
        static func parse(_ raw: Substring) -> (String, [String])? {
            var rest = raw.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = rest.first, first != "#" else { return nil }
            let keyword = rest.prefix(while: { $0 != " " && $0 != "\t" && $0 != "=" && $0 != "\r" })
            rest = rest.dropFirst(keyword.count).drop(while: { $0 == " " || $0 == "\t" })
            if rest.first == "=" { rest = rest.dropFirst() }
            var arguments = [String]()
            while true {
                rest = rest.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
                guard let c = rest.first, c != "#" else { break }
                if c == "\"" {
                    let body = rest.dropFirst().prefix(while: { $0 != "\"" })
                    arguments.append(String(body))
                    rest = rest.dropFirst(body.count + 2)
                } else {
                    let word = rest.prefix(while: { $0 != " " && $0 != "\t" && $0 != "\r" })
                    arguments.append(String(word))
                    rest = rest.dropFirst(word.count)
                }
            }
            return (keyword.lowercased(), arguments)
        }
    }
}
