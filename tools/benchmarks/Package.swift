// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark) of the ledger's hot paths, in a
// package of their own so that building and testing the server never
// builds the benchmark tooling. Run from this folder:
//     swift package --disable-sandbox benchmark
// (tools/micro-bench does that and explains the output).
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which differs between
// checkouts (a CI clone, a developer's folder), so compute it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let ledger = root.lastPathComponent.lowercased()

let package = Package(
    name: "placement-ledger-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LedgerBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Ledger", package: ledger),
                .product(name: "LedgerStore", package: ledger),
                .product(name: "PlacementJSON", package: ledger),
                .product(name: "PlacementAPI", package: ledger),
            ],
            path: "Benchmarks/LedgerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
