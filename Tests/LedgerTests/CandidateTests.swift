import Testing
@testable import Ledger

/// GET /allocation_candidates' search, over hand-built provider records.
@Suite struct CandidateTests {
    func rp(_ uuid: String, parent: ProviderRecord? = nil, inventory: [String: Int64] = [:], used: [String: Int64] = [:],
            traits: [String] = [], aggregates: [String] = [], maxUnit: [String: Int64] = [:]) -> ProviderRecord {
        ProviderRecord(uuid: uuid, name: uuid, generation: 0, parent: parent?.uuid, root: parent?.root ?? uuid,
                       inventories: inventory.mapValues { InventoryRecord(total: $0) }.merging(
                           maxUnit.map { ($0.key, InventoryRecord(total: inventory[$0.key]!, maxUnit: $0.value)) }) { _, b in b },
                       usages: used, traits: traits, aggregates: aggregates, created: 0, updated: 0)
    }

    func group(_ resources: [(String, Int64)], required: [Set<String>] = []) -> CandidateGroup { group("", resources, required: required) }
    func group(_ suffix: String, _ resources: [(String, Int64)], required: [Set<String>] = []) -> CandidateGroup {
        var g = CandidateGroup(suffix: suffix)
        g.resources = resources.map { (resourceClass: $0.0, amount: $0.1) }
        g.requiredTraits = required
        return g
    }

    func search(_ providers: [ProviderRecord], _ groups: [CandidateGroup], policy: String? = nil, limit: Int? = nil,
                nestedAware: Bool = true) throws -> CandidateAnswer {
        var q = CandidateQuery()
        q.groups = groups
        q.groupPolicy = policy
        q.limit = limit
        q.nestedAware = nestedAware
        return try CandidateSearch.search(q, providers: providers, classExists: { _ in true }, traitExists: { _ in true })
    }

    /// Each candidate as a set of "provider:class:amount" strings.
    func shapes(_ a: CandidateAnswer) -> Set<Set<String>> {
        Set(a.candidates.map { Set($0.parts.map { "\($0.provider):\($0.resourceClass):\($0.amount)" }) })
    }

    @Test func flatProvidersMatchABruteForceModel() throws {
        var rng = SystemRandomNumberGenerator()
        let classes = ["VCPU", "MEMORY_MB", "DISK_GB"]
        for round in 0..<50 {
            var providers: [ProviderRecord] = []
            for i in 0..<20 {
                var inv: [String: Int64] = [:], used: [String: Int64] = [:]
                for rc in classes where Bool.random(using: &rng) {
                    inv[rc] = Int64.random(in: 1...16, using: &rng)
                    used[rc] = Int64.random(in: 0...inv[rc]!, using: &rng)
                }
                providers.append(rp("rp\(round)-\(i)", inventory: inv, used: used))
            }
            let asked = classes.filter { _ in Bool.random(using: &rng) }.map { ($0, Int64.random(in: 1...8, using: &rng)) }
            if asked.isEmpty { continue }
            let expected = Set(providers.filter { p in
                asked.allSatisfy { rc, n in p.inventories[rc].map { (p.usages[rc] ?? 0) + n <= $0.total } ?? false }
            }.map { p in Set(asked.map { "\(p.uuid):\($0.0):\($0.1)" }) })
            let answer = try search(providers, [group(asked)])
            #expect(shapes(answer) == expected)
            #expect(answer.candidates.count == expected.count)
        }
    }

    @Test func sharingProviderServesTreesInItsAggregate() throws {
        let cn1 = rp("cn1", inventory: ["VCPU": 8], aggregates: ["aggA"])
        let cn2 = rp("cn2", inventory: ["VCPU": 8, "DISK_GB": 100])
        let ss = rp("ss", inventory: ["DISK_GB": 1000], traits: ["MISC_SHARES_VIA_AGGREGATE"], aggregates: ["aggA"])
        let answer = try search([cn1, cn2, ss], [group([("VCPU", 1), ("DISK_GB", 50)])])
        #expect(shapes(answer) == [["cn1:VCPU:1", "ss:DISK_GB:50"], ["cn2:VCPU:1", "cn2:DISK_GB:50"]])
        #expect(Set(answer.summaries.map(\.provider.uuid)) == ["cn1", "cn2", "ss"])
        // Without the sharing trait the disk cannot be used from cn1.
        var plain = ss
        plain.traits = []
        #expect(shapes(try search([cn1, cn2, plain], [group([("VCPU", 1), ("DISK_GB", 50)])])) == [["cn2:VCPU:1", "cn2:DISK_GB:50"]])
    }

    @Test func unsuffixedGroupSpreadsOverATreeAndTraitsFollowTheResources() throws {
        let cn = rp("cn", traits: ["CUSTOM_ROOT"])
        let numa0 = rp("numa0", parent: cn, inventory: ["VCPU": 4, "MEMORY_MB": 1024], traits: ["HW_NUMA_ROOT"])
        let numa1 = rp("numa1", parent: cn, inventory: ["VCPU": 4, "MEMORY_MB": 1024], traits: ["HW_NUMA_ROOT", "CUSTOM_FOO"])
        let all = [cn, numa0, numa1]
        #expect(try search(all, [group([("VCPU", 1), ("MEMORY_MB", 512)])]).candidates.count == 4)
        // A required trait must be on a provider that gives resources.
        let foo = try search(all, [group([("VCPU", 1), ("MEMORY_MB", 512)], required: [["CUSTOM_FOO"]])])
        #expect(foo.candidates.count == 3)
        #expect(try search(all, [group([("VCPU", 1)], required: [["CUSTOM_ROOT"]])]).candidates.isEmpty)
        // Before 1.29 a candidate may not use two providers of one tree.
        let old = try search(all, [group([("VCPU", 1), ("MEMORY_MB", 512)])], nestedAware: false)
        #expect(shapes(old) == [["numa0:VCPU:1", "numa0:MEMORY_MB:512"], ["numa1:VCPU:1", "numa1:MEMORY_MB:512"]])
    }

    @Test func groupPolicyAndMergedCapacity() throws {
        let cn = rp("cn")
        let pf1 = rp("pf1", parent: cn, inventory: ["SRIOV_NET_VF": 8])
        let pf2 = rp("pf2", parent: cn, inventory: ["SRIOV_NET_VF": 8])
        let all = [cn, pf1, pf2]
        let groups = [group("1", [("SRIOV_NET_VF", 1)]), group("2", [("SRIOV_NET_VF", 1)])]
        let isolate = try search(all, groups, policy: "isolate")
        #expect(isolate.candidates.count == 2)  // 1 on pf1 and 2 on pf2, or the reverse
        #expect(isolate.candidates.allSatisfy { $0.mappings["1"] != $0.mappings["2"] })
        let none = try search(all, groups, policy: "none")
        #expect(shapes(none).contains(["pf1:SRIOV_NET_VF:2"]))
        #expect(none.candidates.count == 4)
        // Two groups of 5 cannot share one provider of 8.
        let big = [group("1", [("SRIOV_NET_VF", 5)]), group("2", [("SRIOV_NET_VF", 5)])]
        let merged = try search(all, big, policy: "none")
        #expect(merged.candidates.count == 2)
        #expect(merged.candidates.allSatisfy { $0.parts.count == 2 })
        // Nor can the sum pass max_unit.
        let capped = [cn, rp("pf", parent: cn, inventory: ["SRIOV_NET_VF": 8], maxUnit: ["SRIOV_NET_VF": 3])]
        #expect(try search(capped, [group("1", [("SRIOV_NET_VF", 2)]), group("2", [("SRIOV_NET_VF", 2)])], policy: "none").candidates.isEmpty)
    }

    @Test func limitKeepsSummariesOfTheKeptTreesOnly() throws {
        let providers = (0..<5).map { rp("rp\($0)", inventory: ["VCPU": 4]) }
        let answer = try search(providers, [group([("VCPU", 1)])], limit: 2)
        #expect(answer.candidates.count == 2)
        #expect(Set(answer.summaries.map(\.provider.uuid)) == Set(answer.candidates.map { $0.parts[0].provider }))
    }

    @Test func unknownNamesAreErrors() throws {
        var q = CandidateQuery()
        q.groups = [group([("CUSTOM_NOPE", 1)])]
        #expect(throws: CandidateError.noSuchResourceClass("CUSTOM_NOPE")) {
            try CandidateSearch.search(q, providers: [], classExists: { $0 != "CUSTOM_NOPE" }, traitExists: { _ in true })
        }
        q.groups = [group([("VCPU", 1)], required: [["CUSTOM_T"]])]
        #expect(throws: CandidateError.noSuchTrait("CUSTOM_T")) {
            try CandidateSearch.search(q, providers: [], classExists: { _ in true }, traitExists: { _ in false })
        }
    }
}
