/// The change setup makes to sshd's PAM file (/etc/pam.d/sshd), as a pure
/// edit of its bytes: every line it does not change stays byte for byte,
/// and each change is preceded by a comment that starts with `marker`.
///
/// - password: `auth required pam_twostep.so nullok` right after
///   `@include common-auth` (pam_unix asks for the password, then
///   pam_twostep for the code; SPEC §3).
/// - publickey: sshd has already checked the key when PAM runs (for
///   keyboard-interactive, the second method), and common-auth would ask
///   for the password as well; so, as google-authenticator's guides have
///   it, `@include common-auth` is commented out and pam_twostep asks for
///   the code alone. `auth required pam_permit.so` after it gives the
///   stack its success when pam_twostep answers PAM_IGNORE (nullok, an
///   exempt host): a stack in which every module ignores fails.
struct SSHDPAMStack {
    /// The first words of every comment setup writes.
    static let marker = "# twostep setup"

    /// The new content, what was done, and what the administrator should look at.
    struct Edit {
        var bytes: [UInt8]
        var done: [String]
        var warnings: [String]
    }

    /// One line of the file: its bytes and its words (nil for a comment or a blank line).
    struct Line {
        var bytes: ArraySlice<UInt8>
        var words: [String]?

        init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            let text = String(decoding: bytes, as: UTF8.self)
            let trimmed = text.drop(while: { $0 == " " || $0 == "\t" })
            words = trimmed.isEmpty || trimmed.hasPrefix("#")
                ? nil : trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        }

        init(_ text: String) {
            self.init(ArraySlice(text.utf8))
        }

        var isCommonAuth: Bool { words?.count == 2 && words?[0] == "@include" && words?[1] == "common-auth" }
        var isAuth: Bool { words?.first.map { $0 == "auth" || $0 == "-auth" } ?? false }
        var mentionsTwoStep: Bool { words != nil && String(decoding: bytes, as: UTF8.self).contains("pam_twostep") }
        var text: String { String(decoding: bytes, as: UTF8.self) }

        /// The module's arguments when this is an `auth` line of pam_twostep
        /// (by path or name, `libpam_twostep` included); nil otherwise. A
        /// `[...]` control may hold spaces; a `#` ends the arguments.
        var twoStepAuthArguments: [String]? {
            guard isAuth, var rest = words?.dropFirst(), let control = rest.popFirst() else { return nil }
            if control.hasPrefix("[") && !control.hasSuffix("]") {
                while let word = rest.popFirst(), !word.hasSuffix("]") {}
            }
            guard let module = rest.popFirst() else { return nil }
            let name = module.split(separator: "/").last.map(String.init) ?? module
            guard name == "pam_twostep.so" || name.hasPrefix("libpam_twostep") else { return nil }
            return Array(rest.prefix { !$0.hasPrefix("#") })
        }
    }

    /// The lines (1-based numbers) of `bytes` that use pam_twostep already.
    static func twoStepLines(in bytes: [UInt8]) -> [(number: Int, text: String)] {
        split(bytes).lines.enumerated().filter { $0.element.mentionsTwoStep }.map { ($0.offset + 1, $0.element.text) }
    }

    /// The edited file for `method`: the module line names `module`, with `nullok` unless enforcing.
    static func edit(_ bytes: [UInt8], path: String, method: SSHDMethod, module: String, nullok: Bool) throws(CLIError) -> Edit {
        var (lines, trailingNewline) = split(bytes)
        if let used = lines.firstIndex(where: \.mentionsTwoStep) {
            throw .usage("\(path) line \(used + 1) uses pam_twostep already: '\(lines[used].text)'. "
                + "Remove that line to let setup manage it, or keep the configuration you made by hand")
        }
        let moduleLine = "auth required \(module)" + (nullok ? " nullok" : "")
        var done = [String]()
        var warnings = [String]()
        switch method {
        case .password:
            let at = lines.firstIndex(where: \.isCommonAuth) ?? lines.lastIndex(where: \.isAuth)
            guard let at else {
                throw .usage("\(path) has no '@include common-auth' and no auth line: setup cannot tell where the password is asked. Add '\(moduleLine)' after the line that asks for it, by hand")
            }
            let inserted = [
                "\(marker) sshd --method password: the code, after the password ('twostep setup --undo' takes it out)",
                moduleLine,
            ]
            lines.insert(contentsOf: inserted.map { Line(ArraySlice($0.utf8)) }, at: at + 1)
            done.append("added '\(moduleLine)' after line \(at + 1) ('\(lines[at].text)')")
        case .publickey:
            for (i, line) in lines.enumerated() where line.isAuth {
                warnings.append("\(path) line \(i + 1) stays: '\(line.text)'. If it asks for a password, key users are asked for it too")
            }
            var first: Int?
            for i in lines.indices where lines[i].isCommonAuth {
                lines[i] = Line(ArraySlice(("#" + lines[i].text).utf8))
                first = first ?? i
                done.append("commented out line \(i + 1) ('@include common-auth': the password)")
            }
            var inserted = [
                "\(marker) sshd --method publickey: after the SSH key only the code; common-auth would ask for the password",
                "\(marker) ('twostep setup --undo' puts the file back as it was)",
            ]
            let at: Int
            if let first {
                // The comment goes above the commented-out include, the module lines below it.
                lines.insert(contentsOf: inserted.map { Line(ArraySlice($0.utf8)) }, at: first)
                at = first + inserted.count + 1
                inserted = []
            } else {
                at = lines.firstIndex(where: { $0.words != nil }) ?? lines.count
            }
            inserted += [moduleLine, "auth required pam_permit.so"]
            lines.insert(contentsOf: inserted.map { Line(ArraySlice($0.utf8)) }, at: at)
            done.append("added '\(moduleLine)' and 'auth required pam_permit.so' (the stack's success when pam_twostep lets a user through without a code)")
        }
        return Edit(bytes: join(lines, trailingNewline: trailingNewline), done: done, warnings: warnings)
    }

    /// The file's bytes from its lines (`split`'s inverse).
    static func join(_ lines: [Line], trailingNewline: Bool) -> [UInt8] {
        var out = [UInt8]()
        for (i, line) in lines.enumerated() {
            out += line.bytes
            if i < lines.count - 1 || trailingNewline { out.append(10) }
        }
        return out
    }

    /// The lines of `bytes`, and whether the last one ended with a newline.
    static func split(_ bytes: [UInt8]) -> (lines: [Line], trailingNewline: Bool) {
        var parts = bytes.split(separator: 10, omittingEmptySubsequences: false)
        let trailing = bytes.last == 10
        if trailing { parts.removeLast() }
        return (parts.map(Line.init), trailing)
    }
}
