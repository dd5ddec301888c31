// swift-tools-version:6.0
//
// libFuzzer targets for twostep's parsers and verifier (issue 7, class 1).
// A separate package, so that a plain `swift build` of the root package
// never sees these executables (they have no main of their own: libFuzzer
// brings it). Built and run by fuzz/run:
//
//   swift build --package-path fuzz --scratch-path .build-fuzz \
//       --sanitize=fuzzer --sanitize=address
//
//   FuzzFactorFile     FactorFile(parsing:) → text → parse again: equal
//   FuzzKeyURI         KeyURI(parsing:) → uri → parse again: equal
//   FuzzBase32         decode → encode → decode: equal; encode → decode: equal
//   FuzzModuleOptions  ModuleOptions(arguments:) from NUL-separated arguments
//   FuzzConfiguration  SystemConfiguration(parsing:path:) (twostep.conf): ranges,
//                      known keys once each, errors on the input's own lines
//   FuzzVerifier       Verifier.verify on (file, answer): an accepted answer is
//                      always a code computed here independently (Nettle HMAC);
//                      times at the ends of Int64 and far in the future (no
//                      trap, lock-outs capped), the file's sends through SendPolicy
//   FuzzSSHPublicKey   SSHPublicKey from authorized_keys lines and blobs (fingerprint
//                      against Nettle directly, every way of reading a key agrees),
//                      and strict Base64 (one text per value)
//   FuzzSSHAuthInfo    SSHAuthInfo(parsing:) (SSH_AUTH_INFO_0): what parses writes
//                      back to exactly the input, within the caps
//   FuzzJSONText       JSONText.parse (the reader of every Varlink message: the module's,
//                      twostepd's, the CLI's): never crashes; what parses writes back to
//                      text that parses to the same value, and writes the same again;
//                      Foundation's JSONDecoder reads it as the same value (differential)
import PackageDescription

let core = Target.Dependency.product(name: "TwoStepCore", package: "twostep")

func fuzzer(_ name: String) -> Target {
    .executableTarget(name: name, dependencies: [core, "FuzzSupport"])
}

let package = Package(
    name: "twostep-fuzz",
    dependencies: [.package(name: "twostep", path: "..")],
    targets: [
        .systemLibrary(name: "CFuzzCrypto", path: "Sources/CFuzzCrypto"),
        .target(name: "FuzzSupport", dependencies: [core, "CFuzzCrypto"]),
        fuzzer("FuzzFactorFile"),
        fuzzer("FuzzKeyURI"),
        fuzzer("FuzzBase32"),
        fuzzer("FuzzModuleOptions"),
        fuzzer("FuzzConfiguration"),
        fuzzer("FuzzVerifier"),
        fuzzer("FuzzSSHPublicKey"),
        fuzzer("FuzzSSHAuthInfo"),
        .executableTarget(name: "FuzzJSONText", dependencies: [.product(name: "TwoStepWire", package: "twostep"), "FuzzSupport"]),
    ]
)
