import TwoStepCore

/// The change `setup sshd --security-keys` makes to twostep.conf (SPEC §7,
/// §11), as a pure edit of its bytes: the `security_keys=` line is set
/// (where it is, or appended after a comment that starts with
/// `SSHDPAMStack.marker`), and every other line stays byte for byte.
enum SetupConfigurationEdit {
    /// The new content of the file at `path` (`bytes`: empty when there is
    /// none). The result is parsed as the module parses it, and refused
    /// when it would not parse: a twostep.conf the module rejects denies
    /// every login.
    static func securityKeys(_ policy: SecurityKeyPolicy, in bytes: [UInt8], path: String) throws(CLIError) -> [UInt8] {
        let line = "security_keys=\(policy.rawValue)"
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        let trailingNewline = bytes.last == UInt8(ascii: "\n")
        if trailingNewline || bytes.isEmpty { lines.removeLast() }
        if let at = lines.firstIndex(where: { key(of: $0) == "security_keys" }) {
            lines[at] = Array(line.utf8)
        } else {
            lines.append(Array("\(SSHDPAMStack.marker) sshd --security-keys \(policy.rawValue) ('twostep setup --undo' takes it out)".utf8))
            lines.append(Array(line.utf8))
        }
        let result = Array(lines.joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")]
        do {
            _ = try SystemConfiguration(parsing: result, path: path)
        } catch {
            throw .failure("\(path) would not be valid with '\(line)': \(error). Fix the file first; nothing was changed")
        }
        return result
    }

    /// The key of a `key=value` line (spaces around it dropped); nil for a
    /// comment, a blank line or a line without `=`.
    static func key(of line: [UInt8]) -> String? {
        let text = String(decoding: line, as: UTF8.self)
        let trimmed = text.drop(while: { $0 == " " || $0 == "\t" })
        guard !trimmed.hasPrefix("#"), let eq = trimmed.firstIndex(of: "=") else { return nil }
        return trimmed[..<eq].trimmingCharacters(in: " \t")
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}
