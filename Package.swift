// swift-tools-version:6.1
import PackageDescription

/// The layers, bottom up (see README.md, "Architecture"):
/// C modules → GreenloopCore (the `Loop` protocol and the one loop driver) → one module per
/// backend → GreenloopBackends (the only module that knows both) → the `Greenloop` umbrella.
let package = Package(
    name: "Greenloop",
    products: [
        .library(name: "Greenloop", targets: ["Greenloop"]),
        .library(name: "GreenloopCore", targets: ["GreenloopCore"]),
        .library(name: "GreenloopLibev", targets: ["GreenloopLibev"]),
        .library(name: "GreenloopLibevent", targets: ["GreenloopLibevent"]),
        .library(name: "GreenloopBackends", targets: ["GreenloopBackends"]),
        .library(name: "Greenlets", targets: ["Greenlets"]),
        .library(name: "LibeventAdapter", targets: ["LibeventAdapter"]),
        .executable(name: "greenloop-loop-tour", targets: ["LoopTour"]),
        .executable(name: "greenloop-echo", targets: ["EchoServer"]),
        .executable(name: "greenloop-chat", targets: ["ChatServer"]),
        .executable(name: "greenloop-fetch", targets: ["ConcurrentFetch"]),
        .executable(name: "greenloop-showcase", targets: ["Showcase"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // For the examples' command lines only; the library does not use it.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C at the edges.
        .target(name: "CGreenloopSystem"),
        .target(name: "CLibev"),
        .target(name: "CFContext", linkerSettings: [.linkedLibrary("boost_context")]),
        .target(
            name: "CLibevent",
            linkerSettings: [
                .linkedLibrary("event_core"),
                .linkedLibrary("event_extra"),
                .linkedLibrary("event_pthreads"),
            ]
        ),

        // The protocol and the shared loop driver: no C backend here.
        .target(
            name: "GreenloopCore",
            dependencies: [
                "CGreenloopSystem",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "GreenloopLibev", dependencies: ["GreenloopCore", "CLibev"]),
        .target(name: "GreenloopLibevent", dependencies: ["GreenloopCore", "CLibevent"]),
        .target(
            name: "GreenloopBackends",
            dependencies: ["GreenloopCore", "GreenloopLibev", "GreenloopLibevent"]
        ),
        .target(
            name: "Greenlets",
            dependencies: [
                "GreenloopCore", "GreenloopBackends", "CFContext", "CGreenloopSystem",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "LibeventAdapter",
            dependencies: [
                "GreenloopCore", "GreenloopLibevent", "CLibevent",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(name: "Greenloop", dependencies: ["GreenloopCore", "GreenloopBackends", "Greenlets", "LibeventAdapter"]),

        // Examples.
        .executableTarget(name: "LoopTour", dependencies: ["Greenloop"], path: "Examples/LoopTour"),
        .executableTarget(
            name: "EchoServer",
            dependencies: ["Greenloop", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/EchoServer"
        ),
        .executableTarget(name: "ChatServer", dependencies: ["Greenloop"], path: "Examples/ChatServer"),
        .executableTarget(name: "ConcurrentFetch", dependencies: ["Greenloop"], path: "Examples/ConcurrentFetch"),
        // Plain libevent C code standing for "your existing C code", and its greenlet-facing
        // Swift wrappers: used by the showcase and the adapter's tests, never by the library.
        .target(
            name: "CLibeventServices",
            path: "Examples/LibeventServices/C",
            linkerSettings: [
                .linkedLibrary("hiredis"), .linkedLibrary("event_core"), .linkedLibrary("event_extra"),
            ]
        ),
        .target(
            name: "LibeventServices",
            dependencies: ["Greenloop", "CLibeventServices", "CLibevent"],
            path: "Examples/LibeventServices/Swift"
        ),
        .executableTarget(
            name: "Showcase",
            dependencies: [
                "Greenloop", "LibeventServices", "CLibevent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/Showcase"
        ),

        // Tests.
        .target(
            name: "GreenloopTestSupport",
            dependencies: [
                "CGreenloopSystem", "GreenloopCore", "GreenloopBackends", "Greenlets",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/GreenloopTestSupport"
        ),
        .testTarget(name: "GreenloopCoreTests", dependencies: ["GreenloopCore"]),
        .target(name: "CGreenloopTestSupport", path: "Tests/CGreenloopTestSupport"),
        .testTarget(name: "GreenletsTests", dependencies: ["Greenlets", "GreenloopTestSupport", "CGreenloopTestSupport"]),
        .testTarget(
            name: "LibeventAdapterTests",
            dependencies: ["Greenloop", "LibeventAdapter", "LibeventServices", "CLibevent", "GreenloopTestSupport"]
        ),
        .testTarget(
            name: "GreenloopLoopTests",
            dependencies: [
                "Greenloop", "GreenloopLibev", "GreenloopLibevent", "CLibevent", "CGreenloopSystem",
                "GreenloopTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
