@testable import Ledger
import PlacementJSON
import Testing
@testable import PlacementAPI

/// Answers written straight to bytes are the bytes `JSONWriter` makes of
/// the JSON tree the same handler built before.
@Suite struct AnswerBytesTests {
    @Test func consumerAllocationsBytesAreTheTreeWritten() throws {
        let store = MemoryViewStore()
        let views = Views(store)
        let providers = (0..<4).map { "aaaaaaaa-0000-4000-8000-00000000000\($0)" }
        for (n, uuid) in providers.enumerated() where n < 3 {  // the last one is gone: generation 0
            try views.putProvider(ProviderRecord(uuid: uuid, name: "rp\(n)", generation: Int64(n * 7), parent: nil, root: uuid,
                                                 inventories: [:], usages: [:], traits: [], aggregates: [], created: 1, updated: 2))
        }
        let classes = ["VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_É\"\\", "CUSTOM_Z"]
        let names = ["project", "ünïcode", "quote\"back\\slash", "tab\there", ""]
        var rng = SystemRandomNumberGenerator()
        var consumers: [ConsumerRecord?] = [nil]
        for _ in 0..<300 {
            var allocations: [String: [String: Int64]] = [:]
            for rp in providers.shuffled(using: &rng).prefix(Int.random(in: 0...4, using: &rng)) {
                var res: [String: Int64] = [:]
                for rc in classes.shuffled(using: &rng).prefix(Int.random(in: 1...5, using: &rng)) {
                    res[rc] = Int64.random(in: 1...Int64.max, using: &rng) >> Int64.random(in: 0...62, using: &rng)
                }
                allocations[rp] = res
            }
            consumers.append(ConsumerRecord(uuid: "c", project: names.randomElement(using: &rng)!, user: names.randomElement(using: &rng)!,
                                            consumerType: ["INSTANCE", "MIGRATION", nil].randomElement(using: &rng)!,
                                            generation: Int64.random(in: 0...1000, using: &rng), allocations: allocations, created: 1, updated: 2))
        }
        for c in consumers {
            for minor in 0...Microversion.max.minor {
                let version = Microversion(1, minor)
                let tree = JSONWriter.bytes(try PlacementAPI.consumerAllocationsJSON(c, views, version: version))
                let direct = try PlacementAPI.consumerAllocationsBytes(c, views, version: version)
                if direct != tree {
                    Issue.record("1.\(minor): \(String(decoding: direct, as: UTF8.self)) is not \(String(decoding: tree, as: UTF8.self))")
                    return
                }
            }
        }
    }
}
