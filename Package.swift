// swift-tools-version:6.0
//
// twostep: two-step verification for Linux logins.
//
// Targets, from the inside out:
//   CCrypto, CQRencode   system libraries (Nettle for HMAC/SHA-2, libqrencode)
//   TwoStepCore          pure: Base32, OTP, otpauth URIs, backup codes,
//                        the factor file (model, parser, writer), the verifier
//   CLinux               setfsuid/setfsgid/renameat2 wrappers (need _GNU_SOURCE)
//   TwoStepStore         the factor file on disk: safe open, lock, atomic replace
//   CChannelSpawn        posix_spawn of a channel plugin (file actions, process group)
//   TwoStepChannels      running channel plugins: path checks, clean env, time limit
//   CPAMShim             the C shim: pam_sm_* entry points, wrappers of variadic libpam calls
//   PAMTwoStep           the module's Swift side: options, conversation, the login flow
//   TwoStepCLI           the `twostep` commands (swift-argument-parser)
//   twostep              main.swift only
// TwoStepCore, TwoStepStore and TwoStepChannels import neither Foundation nor swift-crypto:
// the PAM module links them into sshd, where load time matters.
import PackageDescription

let package = Package(
    name: "twostep",
    products: [
        .executable(name: "twostep", targets: ["twostep"]),
        // pam_twostep.so: built by `make module` with the flags that make it
        // self-contained (static stdlib, exports.map, -z nodelete).
        .library(name: "pam_twostep", type: .dynamic, targets: ["PAMTwoStep"]),
        // For the fuzzers (fuzz/Package.swift depends on this package by path).
        .library(name: "TwoStepCore", targets: ["TwoStepCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .systemLibrary(name: "CQRencode", path: "Sources/CQRencode"),
        .target(name: "TwoStepCore", dependencies: ["CCrypto"]),
        .target(name: "CLinux"),
        .target(name: "TwoStepStore", dependencies: ["TwoStepCore", "CLinux"]),
        .target(name: "CChannelSpawn"),
        .target(name: "TwoStepChannels", dependencies: ["TwoStepCore", "CChannelSpawn"]),
        .target(name: "CPAMShim", linkerSettings: [.linkedLibrary("pam")]),
        .target(name: "PAMTwoStep", dependencies: ["CPAMShim", "TwoStepCore", "TwoStepStore", "TwoStepChannels"]),
        .target(
            name: "TwoStepCLI",
            dependencies: [
                "TwoStepCore", "TwoStepStore", "TwoStepChannels", "CQRencode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "twostep", dependencies: ["TwoStepCLI"]),
        .testTarget(name: "TwoStepCoreTests", dependencies: ["TwoStepCore"]),
        .testTarget(name: "TwoStepStoreTests", dependencies: ["TwoStepStore"]),
        .testTarget(name: "TwoStepChannelsTests", dependencies: ["TwoStepChannels"]),
    ]
)
