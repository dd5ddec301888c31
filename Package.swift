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
//   TwoStepAccounts      the operations on one user's record (AccountService), on the file
//                        (LocalAccountService): shared by the CLI and twostepd
//   TwoStepCLI           the `twostep` commands (swift-argument-parser), written once against
//                        AccountService: the file, or twostepd (DaemonAccountService)
//   twostep              main.swift only
//   TwoStepWire          Varlink without Foundation: values, JSON text, framing, one exchange on a
//                        socket, io.twostep.Login's names (LoginProtocol) and the module's client
//                        of it (DaemonRecordBackend)
//   TwoStepVarlink       the Varlink protocol: messages, errors, the IDL reader, the CLI's client
//                        (Foundation, no NIO: the CLI links it); io.twostep.Manage defined once
//                        (ManageProtocol: names and IDL) and io.twostep.Login's IDL
//   TwoStepDaemon        twostepd: the Varlink server (SwiftNIO), sockets, lifecycle, the interfaces
//   twostepd             main.swift only
//   twostepd-test        twostepd plus io.twostep.Test (--test-interface), for the protocol tests
//                        (test_daemon_protocol.py, $TWOSTEP_DAEMON_TEST); never installed
// TwoStepCore, TwoStepStore, TwoStepChannels and TwoStepWire import neither Foundation nor swift-crypto:
// the PAM module links them into sshd, where load time matters.
import PackageDescription

let package = Package(
    name: "twostep",
    products: [
        .executable(name: "twostep", targets: ["twostep"]),
        .executable(name: "twostepd", targets: ["twostepd"]),
        // pam_twostep.so: built by `make module` with the flags that make it
        // self-contained (static stdlib, exports.map, -z nodelete).
        .library(name: "pam_twostep", type: .dynamic, targets: ["PAMTwoStep"]),
        // For the fuzzers (fuzz/Package.swift depends on this package by path).
        .library(name: "TwoStepCore", targets: ["TwoStepCore"]),
        .library(name: "TwoStepWire", targets: ["TwoStepWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .systemLibrary(name: "CQRencode", path: "Sources/CQRencode"),
        .target(name: "TwoStepCore", dependencies: ["CCrypto"]),
        // The C targets: _FORTIFY_SOURCE=2 when optimised (release). Here, not -Xcc in the
        // Makefile: that reaches swiftc's clang importer too, where it breaks the Glibc import.
        .target(name: "CLinux", cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))]),
        .target(name: "TwoStepStore", dependencies: ["TwoStepCore", "CLinux"]),
        .target(name: "CChannelSpawn", cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))]),
        .target(name: "TwoStepChannels", dependencies: ["TwoStepCore", "CChannelSpawn"]),
        .target(name: "CPAMShim", cSettings: [.define("_FORTIFY_SOURCE", to: "2", .when(configuration: .release))], linkerSettings: [.linkedLibrary("pam")]),
        .target(name: "PAMTwoStep", dependencies: ["CPAMShim", "TwoStepCore", "TwoStepStore", "TwoStepChannels", "TwoStepWire"]),
        .target(
            name: "TwoStepCLI",
            dependencies: [
                "TwoStepCore", "TwoStepStore", "TwoStepChannels", "TwoStepAccounts", "TwoStepVarlink", "TwoStepWire", "CQRencode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TwoStepAccounts", dependencies: ["TwoStepCore", "TwoStepStore", "TwoStepChannels"]),
        .executableTarget(name: "twostep", dependencies: ["TwoStepCLI"]),
        .target(name: "TwoStepWire", dependencies: ["TwoStepCore", "TwoStepStore"]),
        .target(name: "TwoStepVarlink", dependencies: ["TwoStepWire"]),
        .target(
            name: "TwoStepDaemon",
            dependencies: [
                "TwoStepVarlink", "TwoStepAccounts", "TwoStepCore", "TwoStepStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(name: "twostepd", dependencies: ["TwoStepDaemon"]),
        // twostepd with io.twostep.Test, for twostepd's own protocol tests; never installed.
        .executableTarget(
            name: "twostepd-test",
            dependencies: [
                "TwoStepDaemon", "TwoStepVarlink",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TwoStepCoreTests", dependencies: ["TwoStepCore"]),
        .testTarget(name: "TwoStepStoreTests", dependencies: ["TwoStepStore"]),
        .testTarget(name: "TwoStepChannelsTests", dependencies: ["TwoStepChannels"]),
        .testTarget(name: "TwoStepWireTests", dependencies: ["TwoStepWire"]),
        .testTarget(name: "TwoStepVarlinkTests", dependencies: ["TwoStepVarlink"]),
        .testTarget(name: "TwoStepAccountsTests", dependencies: ["TwoStepAccounts"]),
        // The CLI's pure parts: setup's edits of pam.d files and its state files.
        .testTarget(name: "TwoStepCLITests", dependencies: ["TwoStepCLI"]),
        .testTarget(
            name: "TwoStepDaemonTests",
            dependencies: [
                "TwoStepDaemon", "TwoStepVarlink",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
