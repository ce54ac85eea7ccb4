// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "profile-builder",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "collector", targets: ["collector"]),
        .executable(name: "profile-engine", targets: ["profile-engine"]),
        .executable(name: "profile-api", targets: ["profile-api"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "Shared",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Shared",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CollectorApp",
            dependencies: ["Shared", .product(name: "CompressNIO", package: "compress-nio")],
            path: "Services/collector/App",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "collector", dependencies: ["CollectorApp"], path: "Services/collector/Main", swiftSettings: swiftSettings),
        .target(name: "EngineApp", dependencies: ["Shared"], path: "Services/profile-engine/App", swiftSettings: swiftSettings),
        .executableTarget(name: "profile-engine", dependencies: ["EngineApp"], path: "Services/profile-engine/Main", swiftSettings: swiftSettings),
        .target(
            name: "ProfileAPIApp",
            dependencies: [
                "Shared", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // PBKDF2 for the dashboard administrator's password hash.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Services/profile-api/App", swiftSettings: swiftSettings),
        .executableTarget(name: "profile-api", dependencies: ["ProfileAPIApp"], path: "Services/profile-api/Main", swiftSettings: swiftSettings),
        .executableTarget(
            name: "bench-bare-http",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/BareHTTP",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "interest-eval",
            dependencies: ["Shared"],
            path: "Benchmarks/InterestEval",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-interests",
            dependencies: ["Shared"],
            path: "Benchmarks/InterestBench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProfileBuilderTests",
            dependencies: [
                "Shared", "CollectorApp", "EngineApp", "ProfileAPIApp",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/ProfileBuilderTests",
            swiftSettings: swiftSettings
        ),
    ]
)
