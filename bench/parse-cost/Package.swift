// swift-tools-version:6.0
// Instruction counts of parsing and writing a factor file (BENCHMARKS.md,
// history rows 7 and 10): `bench/parse-cost/run`.
import PackageDescription

let package = Package(
    name: "parse-cost",
    dependencies: [.package(name: "twostep", path: "../..")],
    targets: [
        .executableTarget(name: "parse-cost", dependencies: [.product(name: "TwoStepCore", package: "twostep")]),
    ]
)
