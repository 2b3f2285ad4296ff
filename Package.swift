// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "placement-ledger",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "placement-ledger", targets: ["placement-ledger"]),
        // For tools/benchmarks, a package of its own.
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "LedgerStore", targets: ["LedgerStore"]),
        .library(name: "PlacementJSON", targets: ["PlacementJSON"]),
        .library(name: "PlacementAPI", targets: ["PlacementAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already under Hummingbird; named for the channel handler that answers malformed requests.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // glibc's <malloc.h>, for `verify`'s mallopt (a header of libc, nothing to link).
        .systemLibrary(name: "CMalloc"),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "PlacementJSON"),
        .target(name: "Ledger", dependencies: ["PlacementJSON"]),
        .target(name: "LedgerStore", dependencies: ["LMDB", "Ledger", "PlacementJSON"]),
        .target(name: "LedgerAudit", dependencies: ["Ledger", "LedgerStore", "PlacementJSON"]),
        .target(
            name: "PlacementAPI",
            dependencies: [
                "Ledger", "LedgerStore", "LedgerAudit", "PlacementJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .executableTarget(
            name: "placement-ledger",
            dependencies: [
                "PlacementAPI", "LedgerStore", "LedgerAudit", "Ledger", "PlacementJSON", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        .testTarget(name: "PlacementJSONTests", dependencies: ["PlacementJSON"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "LedgerStore", "PlacementJSON"]),
        .testTarget(
            name: "PlacementAPITests",
            dependencies: [
                "PlacementAPI", "LedgerStore", "LedgerAudit", "PlacementJSON",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)
