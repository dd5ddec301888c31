import TwoStepCore
import TwoStepStore
#if canImport(Glibc)
import Glibc
#endif

/// A `~/.google_authenticator` file as google-authenticator-libpam writes it:
///
///     MTQLR2QU2BKSPFICWQS2RFJIGE          the shared secret, Base32
///     " RATE_LIMIT 3 30 [times…]          at most 3 logins in 30 s
///     " WINDOW_SIZE 17                    17 codes accepted: now ± 8 steps
///     " DISALLOW_REUSE [steps…]           a code works once; steps used lately
///     " TOTP_AUTH                         time-based (without it: HOTP)
///     " HOTP_COUNTER 1                    counter-based: the next counter
///     " STEP_SIZE 30                      seconds per code
///     " TIME_SKEW n / RESETTING_TIME_SKEW learned clock skew
///     77094790                            unused scratch codes, 8 digits each
///
/// Parsed strictly: anything else is an error naming the line, and no error
/// message repeats the secret or a scratch code.
public struct GoogleAuthenticatorFile: Sendable {
    /// The shared secret (never printed).
    public var secret: [UInt8]
    /// `TOTP_AUTH` was given; without it google-authenticator uses HOTP.
    public var timeBased = false
    /// `HOTP_COUNTER`: the next counter of a counter-based file.
    public var hotpCounter: UInt64?
    /// `STEP_SIZE`, seconds (google-authenticator's default is 30).
    public var stepSize = 30
    /// True when the file gave `STEP_SIZE`.
    public var stepSizeGiven = false
    /// `WINDOW_SIZE`: how many codes are accepted, centred on now.
    public var windowSize: Int?
    /// `RATE_LIMIT attempts seconds`.
    public var rateLimit: (attempts: Int, seconds: Int)?
    /// `DISALLOW_REUSE`: a code works once.
    public var disallowReuse = false
    /// The time steps `DISALLOW_REUSE` lists as used lately.
    public var usedSteps = [UInt64]()
    /// `TIME_SKEW` or `RESETTING_TIME_SKEW`: learned clock-skew state.
    public var learnedSkew = false
    /// Unused scratch codes, 8 digits each.
    public var scratchCodes = [String]()

    /// The largest file google-authenticator itself reads.
    static let maxSize = 64 * 1024

    /// A problem with the file: the line (1-based, 0 for the whole file) and why.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        var line: Int
        var reason: String
        /// `line N: reason`, or the reason alone for the whole file.
        public var description: String { line > 0 ? "line \(line): \(reason)" : reason }
    }

    /// Parses the file's text; a `Problem` names the line.
    public init(parsing text: String) throws(Problem) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }  // the final newline
        guard let first = lines.first, !first.isEmpty else {
            throw Problem(line: 1, reason: "the first line must be the secret in Base32")
        }
        guard first.utf8.allSatisfy({ Self.isBase32($0) }) else {
            throw Problem(line: 1, reason: "the first line must be the secret in Base32 (A–Z, 2–7)")
        }
        do {
            secret = try Base32.decode(first)
        } catch {
            throw Problem(line: 1, reason: "the secret is not valid Base32 (\(error))")
        }
        guard secret.count >= 10 else {
            throw Problem(line: 1, reason: "the secret is \(secret.count) bytes; twostep needs at least 10 (16 Base32 characters)")
        }
        var seen = Set<String>()
        for (index, line) in lines.enumerated().dropFirst() {
            let number = index + 1
            if line.isEmpty { continue }
            if line.hasPrefix("\" ") {
                let words = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard let name = words.first, !name.isEmpty, !words.contains("") else {
                    throw Problem(line: number, reason: "malformed option line (one space between words)")
                }
                guard seen.insert(name).inserted else { throw Problem(line: number, reason: "\(name) is given twice") }
                try apply(name, Array(words.dropFirst()), line: number)
            } else if line.utf8.count == 8, line.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                scratchCodes.append(line)
            } else {
                throw Problem(line: number, reason: "neither an option (\" NAME …) nor an 8-digit scratch code")
            }
        }
        if timeBased && hotpCounter != nil {
            throw Problem(line: 0, reason: "the file has both TOTP_AUTH and HOTP_COUNTER")
        }
    }

    private mutating func apply(_ name: String, _ args: [String], line: Int) throws(Problem) {
        func number(_ text: String, in range: ClosedRange<Int>) throws(Problem) -> Int {
            guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let n = Int(text), range.contains(n) else {
                throw Problem(line: line, reason: "\(name): '\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        func arguments(_ count: Int) throws(Problem) {
            guard args.count == count else {
                throw Problem(line: line, reason: "\(name) takes \(count == 0 ? "no value" : count == 1 ? "one value" : "\(count) values")")
            }
        }
        switch name {
        case "TOTP_AUTH":
            try arguments(0)
            timeBased = true
        case "HOTP_COUNTER":
            try arguments(1)
            hotpCounter = UInt64(try number(args[0], in: 0...Int.max))
        case "STEP_SIZE":
            try arguments(1)
            stepSize = try number(args[0], in: OTPParameters.periodRange)
            stepSizeGiven = true
        case "WINDOW_SIZE":
            try arguments(1)
            windowSize = try number(args[0], in: 1...100)
        case "RATE_LIMIT":
            // "attempts seconds" then the times of recent logins.
            guard args.count >= 2 else { throw Problem(line: line, reason: "RATE_LIMIT needs attempts and seconds") }
            rateLimit = (try number(args[0], in: 1...1000), try number(args[1], in: 1...86_400))
            for t in args.dropFirst(2) { _ = try number(t, in: 0...Int.max) }
        case "DISALLOW_REUSE":
            disallowReuse = true
            usedSteps = try args.map { (s) throws(Problem) in UInt64(try number(s, in: 0...Int.max)) }
        case "TIME_SKEW":
            try arguments(1)
            guard Int(args[0]) != nil else { throw Problem(line: line, reason: "TIME_SKEW: '\(args[0])' is not a number") }
            learnedSkew = true
        case "RESETTING_TIME_SKEW":
            // "time+skew" pairs recorded while learning the skew.
            for pair in args {
                let parts = pair.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, Int(parts[0]) != nil, Int(parts[1]) != nil else {
                    throw Problem(line: line, reason: "RESETTING_TIME_SKEW: '\(pair)' is not TIME+SKEW")
                }
            }
            learnedSkew = true
        default:
            throw Problem(line: line, reason: "unknown option \(name)")
        }
    }

    private static func isBase32(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "2") && c <= UInt8(ascii: "7")) || c == UInt8(ascii: "=")
    }

    /// Reads `path` the way google-authenticator's module does, only
    /// stricter: not through a symbolic link, a regular file owned by
    /// `owner`, no permission bits for group or others, 1 byte to 64 KiB,
    /// no NUL bytes. The file is only read, never changed.
    public static func read(path: String, owner: uid_t) throws(AccountError) -> String {
        let fd: FileDescriptor
        do {
            fd = try SafeFile.open(path, path: path)
        } catch .unsafe {
            throw .failure("\(path) is a symbolic link; refusing to follow it")
        } catch .io(_, _, ENOENT) {
            throw .failure("\(path) does not exist: nothing to import")
        } catch {
            throw .failure("cannot open \(path): \(systemError(error))")
        }
        let st: stat
        do { st = try fd.status(path: path) } catch { throw .failure("cannot stat \(path): \(systemError(error))") }
        if let violation = FileRules(owner: owner, forbiddenMode: 0o077, maxSize: maxSize, minSize: 1).violation(st) {
            switch violation {
            case .notRegular, .links: throw .failure("\(path) is not a regular file")
            case .owner(let uid):
                throw .failure("\(path) is owned by uid \(uid), not by the user (uid \(owner)); refusing it, as google-authenticator does")
            case .mode(let mode):
                throw .failure("\(path) is accessible by group or others (mode \(String(mode, radix: 8))); the secret may be known to others. Make it mode 0400 or 0600, or set the user up again with 'twostep enroll'")
            case .tooLarge, .tooSmall: throw .failure("\(path) is empty or larger than 64 KiB")
            }
        }
        let bytes: SecretBytes
        do {
            bytes = try fd.readAll(expectedSize: Int(st.st_size), maxSize: maxSize, path: path)
        } catch .unsafe {
            throw .failure("\(path) is not a google-authenticator file (binary or too large)")
        } catch {
            throw .failure("cannot read \(path): \(systemError(error))")
        }
        let text: String? = bytes.withUnsafeBytes { raw in
            raw.contains(0) ? nil : String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
        }
        guard let text else {
            let binary = bytes.withUnsafeBytes { $0.contains(0) }
            throw .failure("\(path) is not a google-authenticator file (\(binary ? "binary or too large" : "not text"))")
        }
        return text
    }

    /// The system error in `error` (a file-layer error) as text.
    private static func systemError(_ error: StoreError) -> String {
        if case .io(_, _, let e) = error { return String(cString: strerror(e)) }
        return error.description
    }
}
