import ArgumentParser
import Foundation
import Ledger
import LedgerStore

/// `placement-ledger generate`: a synthetic history for benchmarks. Every
/// event goes through `decide` and the same append as a live write (in large
/// transactions), so the data dir is one a server could have written.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic history (providers, inventories, allocation churn) into a new data dir, for benchmarks.")

    @Option(help: "Data directory to create.") var dataDir: String
    @Option(help: "How many events to write.") var events = 1_000_000
    @Option(help: "Resource providers.") var providers = 1000
    @Option(help: "Live consumers to keep around (older ones are deleted or replaced).") var consumers = 100_000
    @Option(help: "Microseconds between consecutive events (synthetic clock).") var spacing: Int64 = 1000
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        let store = try LedgerStore(path: dataDir)
        guard try store.lastSequence() == 0 else { throw ValidationError("\(dataDir) already holds events") }
        var rng = SplitMix(state: seed)
        let context = EventContext(requestID: "req-generated", actor: Actor(user: "generator", project: "bench"), microversion: "1.39")
        let rps = (0..<providers).map { String(format: "00000000-0000-4000-8000-%012d", $0) }
        var live: [String] = []
        var counter = 0
        func newConsumer() -> String {
            counter += 1
            return String(format: "c0000000-0000-4000-8000-%012d", counter)
        }
        var clock = Micros(Date().timeIntervalSince1970 * 1_000_000) - Micros(events) * spacing
        var written: UInt64 = 0
        var progress = Progress("generate")
        var batch: [Command] = []
        func flush() throws {
            let (n, _) = try store.commitSynchronously(batch, context: context, clock: { clock += spacing; return clock })
            written += n
            batch.removeAll(keepingCapacity: true)
            progress.update(written, UInt64(events))
        }
        for rp in rps {
            batch.append(.createProvider(uuid: rp, name: "compute-" + rp.suffix(6), parent: nil))
            batch.append(.setInventories(provider: rp, generation: 0, inventories: [
                ("VCPU", InventoryRecord(total: 64, allocationRatio: 16)),
                ("MEMORY_MB", InventoryRecord(total: 1_000_000)),
                ("DISK_GB", InventoryRecord(total: 100_000)),
            ], reservedMayEqualTotal: true))
            if batch.count >= 5000 { try flush() }
        }
        try flush()
        while written < UInt64(events) {
            let remaining = Int(UInt64(events) - written)
            for _ in 0..<min(5000, remaining) {
                let roll = rng.next() % 100
                if live.count < consumers && roll < 60 || live.isEmpty {
                    let c = newConsumer()
                    live.append(c)
                    batch.append(allocation(c, rps, &rng))
                } else if roll < 85 {
                    batch.append(allocation(live[Int(rng.next() % UInt64(live.count))], rps, &rng))
                } else {
                    let i = Int(rng.next() % UInt64(live.count))
                    batch.append(.deleteAllocations(consumer: live[i]))
                    live.swapAt(i, live.count - 1)
                    live.removeLast()
                }
            }
            try flush()
        }
        print("wrote \(written) events into \(dataDir)")
    }

    func allocation(_ consumer: String, _ rps: [String], _ rng: inout SplitMix) -> Command {
        let rp = rps[Int(rng.next() % UInt64(rps.count))]
        return .setAllocations(AllocationRequest(consumers: [
            AllocationRequest.Consumer(
                uuid: consumer, project: "project-\(rng.next() % 50)", user: "user-\(rng.next() % 200)", generation: .none,
                consumerType: "INSTANCE",
                allocations: [(provider: rp, resources: [("VCPU", Int64(1 + rng.next() % 4)), ("MEMORY_MB", Int64(512 * (1 + rng.next() % 8))),
                                                          ("DISK_GB", Int64(10 * (1 + rng.next() % 10)))])]),
        ], origin: .put))
    }
}

/// SplitMix64: small, fast, reproducible.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
