@testable import Ledger
import PlacementJSON
import Testing
@testable import PlacementAPI

/// Answers written straight to bytes are the bytes `JSONWriter` makes of
/// the JSON tree the same handler built before.
@Suite struct AnswerBytesTests {
    /// The model: GET /allocations/{consumer_uuid} as a JSON tree, the way
    /// the handler built it before it wrote bytes. The dict format at every
    /// version; project and user from 1.12, consumer generation from 1.28,
    /// type from 1.38.
    static func consumerAllocationsJSON(_ c: ConsumerRecord?, _ views: Views, version: Microversion) throws -> JSON {
        var allocs = JSONObject()
        guard let c, !c.allocations.isEmpty else { return ["allocations": .object(allocs)] }
        for rp in c.allocations.keys.sorted() {
            let gen = try views.providerGeneration(rp) ?? 0
            var res = JSONObject()
            for (rc, n) in c.allocations[rp]!.sorted(by: { $0.key < $1.key }) { res[rc] = .int(n) }
            allocs[rp] = .object(JSONObject([("resources", .object(res)), ("generation", .int(gen))]))
        }
        var o = JSONObject([("allocations", .object(allocs))])
        if version.atLeast(12) {
            o["project_id"] = .string(c.project)
            o["user_id"] = .string(c.user)
            if version.atLeast(28) { o["consumer_generation"] = .int(c.generation) }
            if version.atLeast(38) { o["consumer_type"] = .string(c.consumerType ?? "unknown") }
        }
        return .object(o)
    }

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
                let tree = JSONWriter.bytes(try Self.consumerAllocationsJSON(c, views, version: version))
                let direct = try PlacementAPI.consumerAllocationsBytes(c, views, version: version)
                if direct != tree {
                    Issue.record("1.\(minor): \(String(decoding: direct, as: UTF8.self)) is not \(String(decoding: tree, as: UTF8.self))")
                    return
                }
            }
        }
    }
}
