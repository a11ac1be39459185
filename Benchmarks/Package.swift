// swift-tools-version:6.1
import PackageDescription

/// Greenloop's benchmarks, kept apart so that the library never depends on what they need.
/// Run them with `make bench` from the repository's root.
let package = Package(
    name: "GreenloopBenchmarks",
    dependencies: [
        .package(name: "Greenloop", path: ".."),
    ],
    targets: [
        // The baselines written in C, measured in the same run as what they are compared with.
        .target(name: "CBaselines", linkerSettings: [.linkedLibrary("boost_context")]),
        .executableTarget(
            name: "GreenletBenchmarks",
            dependencies: [.product(name: "Greenloop", package: "Greenloop"), "CBaselines"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
