import FuzzSupport
import TwoStepCore

/// The pam.d line's arguments (NUL-separated in the input). Parsing never
/// crashes; what it accepts is within the documented ranges; an unknown
/// option name, a twostep.conf-only key or a repeated one is always refused
/// (fail closed); and the store template never expands to a path with `..`
/// or a relative one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let bytes = input.rest()
    let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let known: Set<String> = ["nullok", "debug", "forward_pass", "store", "window", "trust_days", "trust_by",
                              "max_failures", "lockout", "channels", "send_limit", "send_window", "exempt_rhost", "prompt",
                              "socket_dir", "send_count_dir", "security_keys", "config"]
    let names = arguments.map { a in a.firstIndex(of: "=").map { String(a[..<$0]) } ?? a }
    guard let options = try? ModuleOptions(arguments: arguments) else { return 0 }
    require(names.allSatisfy(known.contains), "an unknown option was accepted: \(arguments)")
    require(Set(names).count == names.count, "a repeated option was accepted: \(arguments)")
    require((0...10).contains(options.policy.window), "window out of range")
    require(options.policy.maxFailures >= 1, "max_failures < 1")
    require(options.policy.lockoutSeconds >= 0, "negative lockout")
    require(options.trustDays >= 0, "negative trust_days")
    require(options.channels.hasPrefix("/"), "relative channels directory")
    require(!options.prompt.isEmpty && options.prompt.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7f }, "unprintable prompt")
    require(options.socketDirectory.hasPrefix("/"), "relative socket directory")
    require(options.nullok == arguments.contains { $0.utf8.elementsEqual("nullok".utf8) }, "nullok without the option")
    require(options.securityKeys == .off || names.contains("security_keys"), "security keys on without the option")
    require((try? ModuleOptions(arguments: arguments)) == options, "parsing is not deterministic")
    for (user, home) in [("alice", "/home/alice"), ("..", "/home/x"), ("a/b", "/home/a"), ("bob", "/home/../etc"), ("carol", "")] {
        // As the kernel reads a path: bytes, `/` between components (a `/`
        // followed by a combining mark is one Character, but still a `/`).
        if let path = try? options.store.path(user: user, home: home) {
            require(path.utf8.first == UInt8(ascii: "/"), "relative store path \(path)")
            require(!path.utf8.split(separator: UInt8(ascii: "/")).contains { $0.elementsEqual("..".utf8) },
                    "store path with '..': \(path)")
        }
    }
    return 0
}
