// parse-cost MODE N: N parses (parse, parsebig) or texts (text, textbig) of
// a typical file (1 authenticator, 10 backup codes) or a big one (50 backup
// codes, 100 trusted devices). Run under callgrind by ./run, which prints
// the instructions of one operation: (Ir(N=11) - Ir(N=1)) / 10.
import TwoStepCore

func bytes(_ count: Int, _ seed: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) } }

func makeFile(backups: Int, trusted: Int) -> FactorFile {
    var file = FactorFile(failures: FailureState(count: 1, last: 1_764_221_012))
    file.factors.append(TOTPAuthenticator(id: "totp-1", secret: SecretBytes(Array("12345678901234567890".utf8)),
                                          parameters: .standard, label: "My Phone", created: 1_764_220_800, lastStep: 58_807_360))
    for i in 0..<backups {
        file.factors.append(BackupCode(id: "backup-\(i + 1)", salt: bytes(16, i), hash: bytes(32, i + 100), created: 1_764_220_800))
    }
    for i in 0..<trusted {
        file.trustedDevices.append(TrustedDevice(id: "trust-\(i + 1)", service: "sshd", remoteHost: "192.0.2.\(i % 250)",
                                                 keyFingerprint: i % 2 == 0 ? "SHA256:abcdEFGH/ijkl+\(i)" : nil,
                                                 created: 1_764_220_800, expires: 1_766_812_800))
    }
    return file
}

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "parse"
let n = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1
let file = mode.hasSuffix("big") ? makeFile(backups: 50, trusted: 100) : makeFile(backups: 10, trusted: 0)
var sink = 0
switch mode {
case "parse", "parsebig":
    let text = file.text
    for _ in 0..<n {
        do { sink &+= try FactorFile(parsing: text).factors.count } catch { print("parse failed: \(error)") }
    }
case "text", "textbig":
    for _ in 0..<n { sink &+= file.text.utf8.count }
default:
    print("usage: parse-cost parse|parsebig|text|textbig N")
}
if sink == 42 { print(sink) }
