/// The changes `twostep setup sudo` makes (SPEC §12), as pure edits of
/// bytes: every line they do not change stays byte for byte, and each
/// added line is preceded by a comment that starts with
/// `SSHDPAMStack.marker`.
///
/// - /etc/pam.d/sudo: `auth required MODULE recent=SECONDS` right after
///   `@include common-auth` (the password, then the step-up check).
/// - /etc/pam.d/sshd: `remember_session` on every pam_twostep auth line
///   (the module then leaves the note the session turns into a record),
///   and `session optional MODULE` directly after pam_loginuid's session
///   line (the record is keyed by the audit session pam_loginuid sets).
enum SudoPAMStack {
    /// The bare option sshd's auth line gets.
    static let rememberSession = "remember_session"

    /// /etc/pam.d/sudo with the step-up line.
    static func sudo(_ bytes: [UInt8], path: String, module: String, recent: Int) throws(CLIError) -> SSHDPAMStack.Edit {
        var (lines, trailingNewline) = SSHDPAMStack.split(bytes)
        if let used = lines.firstIndex(where: \.mentionsTwoStep) {
            throw .usage("\(path) line \(used + 1) uses pam_twostep already: '\(lines[used].text)'. "
                + "Remove that line to let setup manage it, or keep the configuration you made by hand")
        }
        let moduleLine = "auth required \(module) recent=\(recent)"
        guard let at = lines.firstIndex(where: \.isCommonAuth) else {
            throw .refused("\(path) has no '@include common-auth' line: setup puts the step-up after it (sudo asks for the password there). "
                + "Add the line '@include common-auth' to the auth lines of \(path) (Debian's has it), or add '\(moduleLine)' after the line that asks for the password, by hand. Nothing was changed")
        }
        let inserted = [
            "\(SSHDPAMStack.marker) sudo --recent \(recent): no code again within \(recent) s of a verified ssh login ('twostep setup --undo sudo' takes it out)",
            moduleLine,
        ]
        lines.insert(contentsOf: inserted.map(SSHDPAMStack.Line.init), at: at + 1)
        return SSHDPAMStack.Edit(bytes: SSHDPAMStack.join(lines, trailingNewline: trailingNewline),
                                 done: ["added '\(moduleLine)' after line \(at + 1) ('\(lines[at].text)')"], warnings: [])
    }

    /// /etc/pam.d/sshd with sudo's part: `remember_session` on the
    /// pam_twostep auth lines, the session line after pam_loginuid. An
    /// sshd stack without a pam_twostep auth line gets the session line
    /// alone, and a warning: sudo then asks for a code every time.
    static func sshd(_ bytes: [UInt8], path: String, module: String) throws(CLIError) -> SSHDPAMStack.Edit {
        var (lines, trailingNewline) = SSHDPAMStack.split(bytes)
        var done = [String]()
        var warnings = [String]()
        var auth = 0
        for i in lines.indices where lines[i].isAuth && lines[i].mentionsTwoStep {
            auth += 1
            guard !(lines[i].words ?? []).contains(rememberSession) else { continue }
            lines[i] = SSHDPAMStack.Line(withOption(rememberSession, on: lines[i].text))
            done.append("'\(rememberSession)' on line \(i + 1) ('\(lines[i].text)')")
        }
        if auth == 0 {
            warnings.append("\(path) has no pam_twostep auth line yet: until 'twostep setup sshd' is done (it adds '\(rememberSession)' to its line while sudo is set up), an ssh login is not verified, so sudo asks for a code every time")
        }
        if lines.contains(where: { $0.words?.first == "session" && $0.mentionsTwoStep }) {
            done.append("its pam_twostep session line is kept")
        } else {
            guard let at = lines.firstIndex(where: isLoginUID) else {
                throw .failure("\(path) has no 'session required pam_loginuid.so' line: the step-up needs it (the login's verification is kept for its audit session, which pam_loginuid sets). "
                    + "Add 'session required pam_loginuid.so' to \(path)'s session lines (Debian's has it), then run setup again. Nothing was changed")
            }
            let sessionLine = "session optional \(module)"
            lines.insert(SSHDPAMStack.Line(sessionLine), at: at + 1)
            lines.insert(SSHDPAMStack.Line("\(SSHDPAMStack.marker) sudo: the line after pam_loginuid keeps this login's verification for sudo ('twostep setup --undo sudo' takes it out)"), at: at)
            done.append("added '\(sessionLine)' after line \(at + 1) ('\(lines[at + 1].text)')")
        }
        return SSHDPAMStack.Edit(bytes: SSHDPAMStack.join(lines, trailingNewline: trailingNewline), done: done, warnings: warnings)
    }

    /// True for pam_loginuid's session line.
    static func isLoginUID(_ line: SSHDPAMStack.Line) -> Bool {
        guard let words = line.words, words.first == "session" || words.first == "-session" else { return false }
        return words.contains { $0 == "pam_loginuid.so" || $0.hasSuffix("/pam_loginuid.so") }
    }

    /// `line` with the bare `option` after its last argument: before a
    /// trailing comment, which libpam cuts off.
    static func withOption(_ option: String, on line: String) -> String {
        let body = line.firstIndex(of: "#").map { line[..<$0] } ?? line[...]
        let rest = line[body.endIndex...]
        var kept = Substring(body)
        var trailing = ""
        while let last = kept.last, last == " " || last == "\t" || last == "\r" {
            trailing = String(last) + trailing
            kept = kept.dropLast()
        }
        return kept + " " + option + trailing + rest
    }
}

/// /etc/pam.d/sshd as the set-ups in force make it, from the file as it
/// was before any of them (`base`): setup sshd's lines, then sudo's on top
/// (`remember_session` goes on sshd's auth line). Both targets' backup/
/// hold that same base; so undoing one target writes the composition of
/// the other alone — its lines stay, the undone target's go — and undoing
/// the last one writes the base back byte for byte.
struct SSHDPAMComposition {
    /// setup sshd's part: the auth line's module, method and nullok.
    struct SSHDPart {
        var method: SSHDMethod
        var module: String
        var nullok: Bool
    }

    /// nil: sshd is not set up.
    var sshd: SSHDPart?
    /// setup sudo's part: the module its session line names (nil: sudo is not set up).
    var sudoModule: String?

    /// The parts of these set-ups (nil: that target has none).
    init(sshd: SetupState?, sudo: SetupState?) {
        self.sshd = sshd.map { SSHDPart(method: $0.method, module: $0.module, nullok: !$0.enforce) }
        sudoModule = sudo?.module
    }

    init(sshd: SSHDPart?, sudoModule: String?) {
        self.sshd = sshd
        self.sudoModule = sudoModule
    }

    /// The file with every part in force; with none, `base` as it is.
    func apply(to base: [UInt8], path: String) throws(CLIError) -> SSHDPAMStack.Edit {
        var edit = SSHDPAMStack.Edit(bytes: base, done: [], warnings: [])
        if let sshd {
            edit = try SSHDPAMStack.edit(base, path: path, method: sshd.method, module: sshd.module, nullok: sshd.nullok)
        }
        if let sudoModule {
            let more = try SudoPAMStack.sshd(edit.bytes, path: path, module: sudoModule)
            edit = SSHDPAMStack.Edit(bytes: more.bytes, done: edit.done + more.done, warnings: edit.warnings + more.warnings)
        }
        return edit
    }
}
