import FuzzSupport
import TwoStepCore

/// twostep.conf as bytes. Parsing never crashes; what it accepts is within
/// the documented ranges; an error names the file and a line the input
/// has; a line is accepted only as `key=value` with a known key of the
/// file, each key once; and the line numbers are the input's own: blank
/// lines put in front move an error down by as many lines, and a comment
/// appended changes nothing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let bytes = input.rest()
    let path = "/etc/twostep/twostep.conf"
    let lineCount = bytes.count(where: { $0 == 10 }) + 1
    let parsed: SystemConfiguration
    do throws(ConfigurationError) {
        parsed = try SystemConfiguration(parsing: bytes, path: path)
    } catch {
        guard case .invalidLine(let p, let line, let reason) = error else {
            require(false, "the parser threw a file error: \(error)")
            return 0
        }
        require(p == path, "the error names another file")
        require((1...lineCount).contains(line), "line \(line) of \(lineCount)")
        require(!reason.isEmpty && error.description.hasPrefix("\(path):\(line): "), "description \(error.description)")
        do throws(ConfigurationError) {
            _ = try SystemConfiguration(parsing: [10, 10, 10] + bytes, path: path)
            require(false, "three blank lines in front made the file good")
        } catch {
            require(error.line == line + 3, "three blank lines in front: line \(String(describing: error.line)), was \(line)")
        }
        return 0
    }
    let o = parsed.options
    require((0...10).contains(o.policy.window), "window out of range")
    require((1...1000).contains(o.policy.maxFailures), "max_failures out of range")
    require((0...604_800).contains(o.policy.lockoutSeconds), "lockout out of range")
    require((0...3650).contains(o.trustDays), "trust_days out of range")
    require(SendPolicy.limitRange.contains(o.sendPolicy.limit), "send_limit out of range")
    require(SendPolicy.windowRange.contains(Int(o.sendPolicy.window)), "send_window out of range")
    require(o.channels.hasPrefix("/") && o.socketDirectory.hasPrefix("/"), "a relative directory")
    require(!o.prompt.isEmpty && o.prompt.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7f }, "unprintable prompt")
    require(o.store.template.hasPrefix("/") || o.store.template.hasPrefix("%h"), "relative store")
    require(SystemConfiguration.databaseTimeoutRange.contains(parsed.databaseTimeout), "database_timeout out of range")
    require(SystemConfiguration.offlineMaxAgeRange.contains(Int(parsed.offlineMaxAge)), "offline_max_age out of range")
    require(parsed.backend == .file || parsed.database != nil, "postgresql without a database")
    if let uri = parsed.database {
        require(uri.hasPrefix("postgresql://") || uri.hasPrefix("postgres://"), "database scheme")
        // libpq's reading of the query: after the first '?', '&'-separated,
        // names percent-decoded.
        if let q = uri.firstIndex(of: "?") {
            for parameter in uri[uri.index(after: q)...].split(separator: "&") {
                let name = Array(parameter.prefix { $0 != "=" }.utf8)
                var decoded = [UInt8](), i = 0
                while i < name.count {
                    if name[i] == UInt8(ascii: "%"), i + 2 < name.count,
                       let v = UInt8(String(decoding: name[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                        decoded.append(v)
                        i += 3
                    } else {
                        decoded.append(name[i])
                        i += 1
                    }
                }
                require(String(decoding: decoded, as: UTF8.self).lowercased() != "password", "a password parameter: \(uri)")
            }
        }
    }
    require(parsed.databasePasswordFile.map { $0.hasPrefix("/") } ?? true, "relative password file")

    // Every line that is not blank or a comment is a known file key with
    // '=', each key at most once.
    var seen = Set<String>()
    for line in bytes.split(separator: 10, omittingEmptySubsequences: false) {
        // As the parser reads a line: bytes, spaces and tabs trimmed.
        let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 }
        guard let first = line.firstIndex(where: { !blank($0) }), line[first] != UInt8(ascii: "#") else { continue }
        guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else {
            require(false, "a line without '=' was accepted: \(String(decoding: line, as: UTF8.self))")
            return 0
        }
        var name = line[first..<eq]
        while let last = name.last, blank(last) { name.removeLast() }
        let text = String(decoding: name, as: UTF8.self)
        let key = ConfigurationKey(name: text)
        require(key != nil && key!.isAllowed(in: .file), "an unknown key was accepted: \(text)")
        require(seen.insert(text).inserted, "a key given twice was accepted: \(text)")
    }

    require((try? SystemConfiguration(parsing: bytes, path: path)) == parsed, "parsing is not deterministic")
    require((try? SystemConfiguration(parsing: bytes + Array("\n# appended\n".utf8), path: path)) == parsed,
            "an appended comment changed the result")
    require((try? ModuleOptions(arguments: [], base: o)) == o, "an empty pam.d line changed the file's options")
    return 0
}
