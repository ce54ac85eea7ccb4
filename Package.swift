// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// The embedding model's own loops (attention, layer norm, GELU) run about 20 times slower
// unoptimised, which made debug builds (scripts/run's default, the tests) wait seconds per batch.
let optimizedSwiftSettings: [SwiftSetting] = swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

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
        // The domain model every service shares: JSON values, field types and their validator,
        // segment rules, catalog files, queue shards, domain enums. No database or HTTP code.
        .target(
            name: "ProfileModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            path: "Shared/ProfileModel",
            swiftSettings: swiftSettings
        ),
        // What every service is built from: configuration, PostgreSQL access and migrations,
        // HTTP errors and middleware, logging and metrics, the service lifecycle and commands.
        .target(
            name: "ServiceKit",
            dependencies: [
                "ProfileModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: swiftSettings
        ),
        // Requests to addresses that customers configure (webhooks, exports, LLMs), behind the
        // outbound policy that keeps them off internal networks.
        .target(
            name: "OutboundHTTP",
            dependencies: ["ServiceKit", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Shared/OutboundHTTP",
            swiftSettings: swiftSettings
        ),
        // Read access to the catalog tables, which the API writes and the engine matches against.
        .target(
            name: "CatalogStore",
            dependencies: [
                "ProfileModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/CatalogStore",
            swiftSettings: swiftSettings
        ),
        // Interest and intent detection in chats and pages: pure code, used by the engine and the
        // evaluation and benchmark tools.
        .target(name: "InterestAnalysis", dependencies: ["ProfileModel", "TextEmbedding", "CBLAS"], path: "Shared/InterestAnalysis", swiftSettings: swiftSettings),
        // OpenBLAS's C interface (Debian's libopenblas-dev), for the embedding model's matrix products.
        .systemLibrary(name: "CBLAS", path: "Shared/CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The sentence-embedding model (all-MiniLM-L6-v2) run in-process: WordPiece tokenizer,
        // BERT encoder, mean pooling. No network and no Python at run time.
        .target(name: "TextEmbedding", dependencies: ["CBLAS"], path: "Shared/TextEmbedding", swiftSettings: optimizedSwiftSettings),
        // The optional OpenAI-compatible backends: the LLM chat analyser (chat completions) and
        // the embeddings endpoint of the hybrid analyser.
        .target(
            name: "LLMAnalysis",
            dependencies: [
                "InterestAnalysis", "ProfileModel", "ServiceKit", "TextEmbedding",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Shared/LLMAnalysis",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CollectorApp",
            dependencies: ["ServiceKit", "ProfileModel", .product(name: "CompressNIO", package: "compress-nio")],
            path: "Services/collector/App",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "collector", dependencies: ["CollectorApp"], path: "Services/collector/Main", swiftSettings: swiftSettings),
        .target(name: "EngineApp", dependencies: ["ServiceKit", "ProfileModel", "CatalogStore", "InterestAnalysis", "LLMAnalysis", "TextEmbedding"], path: "Services/profile-engine/App", swiftSettings: swiftSettings),
        .executableTarget(name: "profile-engine", dependencies: ["EngineApp"], path: "Services/profile-engine/Main", swiftSettings: swiftSettings),
        .target(
            name: "ProfileAPIApp",
            dependencies: [
                "ServiceKit", "ProfileModel", "CatalogStore", "OutboundHTTP", "InterestAnalysis",
                .product(name: "Mustache", package: "swift-mustache"),
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
            dependencies: ["ProfileModel", "InterestAnalysis", "TextEmbedding"],
            path: "Benchmarks/InterestEval",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-interests",
            dependencies: ["ProfileModel", "InterestAnalysis", "TextEmbedding"],
            path: "Benchmarks/InterestBench",
            swiftSettings: swiftSettings
        ),
        // Unit tests of the embedding model against the reference's golden vectors (no database).
        .testTarget(
            name: "TextEmbeddingTests",
            dependencies: ["TextEmbedding"],
            path: "Tests/TextEmbeddingTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProfileBuilderTests",
            dependencies: [
                "ProfileModel", "ServiceKit", "OutboundHTTP", "CatalogStore", "InterestAnalysis", "LLMAnalysis", "TextEmbedding",
                "CollectorApp", "EngineApp", "ProfileAPIApp",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/ProfileBuilderTests",
            swiftSettings: swiftSettings
        ),
    ]
)
