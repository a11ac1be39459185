// swift-tools-version:6.1
import PackageDescription

/// Greenloop's benchmark suite, kept apart so that the library never depends on what it needs.
/// `make bench` (from the repository's root) builds it in release mode and runs `greenloop-bench`,
/// which runs every workload alternately with its baselines: raw C libev and libevent programs,
/// gevent (in a virtual environment it makes) and SwiftNIO.
let package = Package(
    name: "GreenloopBenchmarks",
    products: [
        .executable(name: "greenloop-bench", targets: ["BenchmarkSuite"]),
        .executable(name: "greenloop-workload", targets: ["GreenloopWorkloads"]),
        .executable(name: "loadgen", targets: ["LoadGenerator"]),
        .executable(name: "libev-baseline", targets: ["LibevBaseline"]),
        .executable(name: "libevent-baseline", targets: ["LibeventBaseline"]),
        .executable(name: "nio-echo", targets: ["NIOEchoServer"]),
    ],
    dependencies: [
        .package(name: "Greenloop", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // The orchestrator: alternates workloads and baselines, prints the table, writes
        // results/latest.json and results/latest.svg.
        .executableTarget(name: "BenchmarkSuite"),
        // Greenloop's side of every workload, one per process.
        .executableTarget(
            name: "GreenloopWorkloads",
            dependencies: [
                .product(name: "Greenloop", package: "Greenloop"), "CBaselines",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Baselines and tools in C, built from this package's own sources.
        .target(
            name: "CBaselines",
            linkerSettings: [
                .linkedLibrary("boost_context"), .linkedLibrary("event_core"), .linkedLibrary("event_extra"),
            ]
        ),
        .target(name: "CBenchSupport"),
        .executableTarget(name: "LoadGenerator"),
        .executableTarget(name: "LibevBaseline", dependencies: ["CBenchSupport"], linkerSettings: [.linkedLibrary("ev")]),
        .executableTarget(name: "LibeventBaseline", dependencies: ["CBaselines", "CBenchSupport"]),
        .executableTarget(
            name: "NIOEchoServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
