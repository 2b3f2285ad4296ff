import Benchmark
import Foundation
import Ledger
import LedgerStore
import PlacementAPI
import PlacementJSON

// The hot paths of one PUT and one GET /allocations/{c}, each alone:
// decide and apply, the event's stored form both ways, schema validation of
// the body, the GET's JSON, and a durable group commit of N writes. The
// numbers say where a request's time goes; alloc-bench says what a client
// sees end to end.

let context = EventContext(requestID: "req-7f1c1e4e-52ad-4bc4-9d8d-2f0b3a1c2d3e",
                           actor: Actor(user: "nova", project: "service"), microversion: "1.38")
let providers = (0..<200).map { String(format: "5a1b2c3d-0000-4000-8000-%012d", $0) }

func consumerUUID(_ n: Int) -> String { String(format: "c0ffee00-0000-4000-8000-%012d", n) }

/// A PUT /allocations/{c} at 1.38 for a new consumer on one or two providers.
func putCommand(_ n: Int) -> Command {
    var allocations: [(provider: String, resources: [(String, Int64)])] = [
        (providers[n % providers.count], [("VCPU", 2), ("MEMORY_MB", 2048)]),
    ]
    if n % 2 == 0 { allocations.append((providers[(n * 7 + 3) % providers.count], [("DISK_GB", 20)])) }
    return .setAllocations(AllocationRequest(consumers: [
        .init(uuid: consumerUUID(n), project: "p-\(n % 50)", user: "u-\(n % 20)", generation: .some(nil),
              consumerType: "INSTANCE", allocations: allocations),
    ], origin: .put))
}

/// Providers with room for every benchmark's allocations.
func setupCommands() -> [Command] {
    providers.flatMap { rp -> [Command] in
        [.createProvider(uuid: rp, name: "host-\(rp.suffix(6))", parent: nil),
         .setInventories(provider: rp, generation: 0, inventories: [
            ("VCPU", InventoryRecord(total: 1_000_000, allocationRatio: 16)),
            ("MEMORY_MB", InventoryRecord(total: 1_000_000_000)),
            ("DISK_GB", InventoryRecord(total: 10_000_000)),
         ], reservedMayEqualTotal: false)]
    }
}

/// Decides and applies commands in memory, as the writer does.
final class MemoryLedger {
    let views = Views(MemoryViewStore())
    var seq: UInt64 = 0
    func run(_ c: Command) throws {
        guard case .success(let payloads) = try decide(c, views: views) else { fatalError("refused: \(c)") }
        for p in payloads {
            seq += 1
            try apply(Event(seq: seq, time: Int64(seq), context: context, payload: p), to: views)
        }
    }
}

let allocationEvent = Event(seq: 123_456, time: 1_764_000_000_000_000, context: context, payload: .allocationsReplaced(consumers: [
    ConsumerAllocations(consumer: consumerUUID(1), project: "p-1", user: "u-1", consumerType: "INSTANCE", allocations: [
        providers[1]: ["VCPU": 2, "MEMORY_MB": 2048], providers[10]: ["DISK_GB": 20],
    ]),
]))

/// The providers of `setupCommands` as events.
func providerEvents() -> [Event] {
    providers.enumerated().flatMap { n, rp -> [Event] in
        [Event(seq: UInt64(2 * n + 1), time: 1, context: context, payload: .providerCreated(uuid: rp, name: "host-\(n)", parent: nil)),
         Event(seq: UInt64(2 * n + 2), time: 1, context: context, payload: .inventoriesReplaced(provider: rp, inventories: [
            "VCPU": InventoryRecord(total: 1_000_000, allocationRatio: 16), "MEMORY_MB": InventoryRecord(total: 1_000_000_000),
            "DISK_GB": InventoryRecord(total: 10_000_000),
         ]))]
    }
}

/// Both folds of the providers and 10,000 consumers, and the stored events
/// each sample folds next (the same consumers' allocations again and again).
final class Folds {
    let views = Views(MemoryViewStore())
    var interned = InternedFold()
    var events: [[UInt8]] = []
    var next = 0
}
nonisolated(unsafe) var folds: Folds?

func sharedFolds() throws -> Folds {
    if let folds { return folds }
    let f = Folds()
    for e in providerEvents() {
        try apply(e, to: f.views)
        try f.interned.apply(e)
    }
    f.events = try storedAllocationEvents(10_000)
    for bytes in f.events {
        try apply(try Event.decoded(bytes), to: f.views)
        try bytes.withUnsafeBytes { try f.interned.apply(stored: $0) }
    }
    folds = f
    return f
}

/// `count` stored allocation events, over 10,000 consumers (each one's
/// allocations replaced again and again, as nova moves and resizes).
func storedAllocationEvents(_ count: Int) throws -> [[UInt8]] {
    try (0..<count).map { n in
        try Event(seq: UInt64(1000 + n), time: Int64(1000 + n), context: context, payload: .allocationsReplaced(consumers: [
            ConsumerAllocations(consumer: consumerUUID(n % 10_000), project: "p-\(n % 50)", user: "u-\(n % 20)", consumerType: "INSTANCE",
                                allocations: [providers[n % providers.count]: ["VCPU": 2, "MEMORY_MB": 2048],
                                              providers[(n * 7 + 3) % providers.count]: ["DISK_GB": 20]]),
        ])).encoded()
    }
}

let putBody = Array("""
    {"allocations": {"\(providers[1])": {"resources": {"VCPU": 2, "MEMORY_MB": 2048}},
                     "\(providers[10])": {"resources": {"DISK_GB": 20}}},
     "project_id": "p-1", "user_id": "u-1", "consumer_generation": null, "consumer_type": "INSTANCE"}
    """.utf8)

/// State built once and shared by every sample of a benchmark (a sample is
/// one call of its closure; building per sample would measure the set-up).
nonisolated(unsafe) var memoryLedger: MemoryLedger?
nonisolated(unsafe) var stores: [Int: (store: LedgerStore, next: Int)] = [:]

func sharedMemoryLedger() throws -> MemoryLedger {
    if let memoryLedger { return memoryLedger }
    let ledger = MemoryLedger()
    for c in setupCommands() { try ledger.run(c) }
    for n in 0..<10_000 { try ledger.run(putCommand(n)) }
    memoryLedger = ledger
    return ledger
}

/// A data dir with the providers and 10,000 consumers, one per benchmark.
func sharedStore(_ id: Int) throws -> (store: LedgerStore, next: Int) {
    if let s = stores[id] { return s }
    let dir = scratchDir()
    let store = try LedgerStore(path: dir)
    _ = try store.commitSynchronously(setupCommands(), context: context, clock: { 1 })
    var next = 0
    for _ in 0..<20 {
        _ = try store.commitSynchronously((next..<next + 500).map(putCommand), context: context, clock: { 2 })
        next += 500
    }
    stores[id] = (store, next)
    return (store, next)
}

func scratchDir() -> String {
    let base = ProcessInfo.processInfo.environment["BENCH_DATA_ROOT"] ?? FileManager.default.temporaryDirectory.path
    return base + "/ledger-bench-\(UUID().uuidString)"
}

let benchmarks: @Sendable () -> Void = {
    // Malloc counts come from the malloc interposer, which also makes every
    // allocation slower: read the times as relative, the counts as exact.
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput],
                                           timeUnits: .microseconds, maxDuration: .seconds(2), maxIterations: 100_000)

    Benchmark("decide+apply PUT /allocations (in memory)") { benchmark in
        let ledger = try sharedMemoryLedger()
        let first = Int(ledger.seq) + 1_000_000
        let commands = (first..<first + benchmark.scaledIterations.count).map(putCommand)
        benchmark.startMeasurement()
        for c in commands { try ledger.run(c) }
    }

    Benchmark("event encode (AllocationsReplaced)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try allocationEvent.encoded()) }
    }

    Benchmark("event decode (AllocationsReplaced)") { benchmark in
        let bytes = try allocationEvent.encoded()
        for _ in benchmark.scaledIterations { blackHole(try Event.decoded(bytes)) }
    }

    Benchmark("event decode with Foundation (as earlier builds)") { benchmark in
        let bytes = try allocationEvent.encodedWithFoundation()
        for _ in benchmark.scaledIterations { blackHole(try Event.decodedWithFoundation(bytes)) }
    }

    // verify's fold, one stored AllocationsReplaced (a consumer's allocations
    // replaced) at a time: as verify read it until 2026-12-02 (decode the event,
    // `apply` on the in-memory views) and as it reads it now (`InternedFold`).
    Benchmark("fold of a stored allocation event: decode + apply (in memory)") { benchmark in
        let folds = try sharedFolds()
        for _ in benchmark.scaledIterations {
            try apply(try Event.decoded(folds.events[folds.next % folds.events.count]), to: folds.views)
            folds.next += 1
        }
    }

    Benchmark("fold of a stored allocation event: InternedFold (verify)") { benchmark in
        let folds = try sharedFolds()
        for _ in benchmark.scaledIterations {
            try folds.events[folds.next % folds.events.count].withUnsafeBytes { try folds.interned.apply(stored: $0) }
            folds.next += 1
        }
    }

    Benchmark("parse + schema-check PUT /allocations body (1.38)") { benchmark in
        let schema = Schemas()["allocation-put-1.38"]
        for _ in benchmark.scaledIterations {
            let json = try JSONParser.parse(putBody)
            blackHole(schema.validate(json))
        }
    }

    Benchmark("GET /allocations/{c} body bytes") { benchmark in
        let ledger = try sharedMemoryLedger()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let c = try ledger.views.consumer(consumerUUID(0))
            blackHole(try PlacementAPI.consumerAllocationsBytes(c, ledger.views, version: Microversion(1, 12)))
        }
    }

    for n in [1, 16, 64] {
        Benchmark("durable group commit of \(n) PUTs",
                  configuration: .init(metrics: [.wallClock, .syscalls, .throughput], maxDuration: .seconds(3),
                                       maxIterations: 400)) { benchmark in
            let (store, next) = try sharedStore(n)
            let batch = (next..<next + n).map(putCommand)
            stores[n] = (store, next + n)
            benchmark.startMeasurement()
            let (events, refused) = try store.commitSynchronously(batch, context: context, clock: { 3 })
            benchmark.stopMeasurement()
            precondition(events == UInt64(n) && refused == 0)
        }
    }
}
