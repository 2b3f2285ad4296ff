/// GET /allocation_candidates: which sets of providers could satisfy a
/// request, computed over the projection's provider records.
///
/// The search follows Placement 16.0.0's observable rules: each request group
/// is solved on its own (a granular group by one provider; the unsuffixed
/// group by one provider, or by any providers of one tree plus sharing
/// providers when trees or sharing providers exist), then the groups'
/// answers are combined per anchor tree, filtered by `group_policy` and
/// `same_subtree`, merged, and checked against capacity once more.

/// One request group (`resources{S}`, `required{S}`, `member_of{S}`, `in_tree{S}`).
public struct CandidateGroup: Sendable {
    public var suffix: String
    /// In the order the query gave them.
    public var resources: [(resourceClass: String, amount: Int64)] = []
    /// Each set: at least one of its traits.
    public var requiredTraits: [Set<String>] = []
    public var forbiddenTraits: Set<String> = []
    /// Each set: member of at least one of its aggregates.
    public var memberOf: [Set<String>] = []
    public var forbiddenAggregates: Set<String> = []
    public var inTree: String?

    /// The unsuffixed group may spread over a tree; numbered/named groups may not.
    public var useSameProvider: Bool { !suffix.isEmpty }

    public init(suffix: String) { self.suffix = suffix }
}

/// The request as a whole.
public struct CandidateQuery: Sendable {
    /// In the order their first parameter appeared in the query.
    public var groups: [CandidateGroup] = []
    public var limit: Int?
    public var groupPolicy: String?
    public var rootRequired: Set<String> = []
    public var rootForbidden: Set<String> = []
    public var sameSubtrees: [Set<String>] = []
    /// From 1.29 candidates may use several providers of one tree.
    public var nestedAware = true

    public init() {}
}

public enum CandidateError: Error, Equatable {
    case noSuchResourceClass(String)
    case noSuchTrait(String)
}

/// One allocation request: amounts per provider and class, and which
/// providers answered which group.
public struct AllocationCandidate: Hashable, Sendable {
    public struct Part: Hashable, Sendable {
        public var provider: String
        public var resourceClass: String
        public var amount: Int64
    }
    /// Sorted by provider then class, so equal candidates compare equal.
    public var parts: [Part]
    public var mappings: [String: Set<String>]
    public var anchor: String

    init(parts: [Part], mappings: [String: Set<String>], anchor: String) {
        self.parts = parts.sorted { ($0.provider, $0.resourceClass, $0.amount) < ($1.provider, $1.resourceClass, $1.amount) }
        self.mappings = mappings
        self.anchor = anchor
    }

    // Placement compares allocation requests by their parts and mappings only.
    public static func == (a: Self, b: Self) -> Bool { a.parts == b.parts && a.mappings == b.mappings }
    public func hash(into h: inout Hasher) { h.combine(parts) }
}

/// One provider of a tree that takes part in the answer.
public struct ProviderSummary: Sendable {
    public struct Resource: Sendable {
        public var resourceClass: String
        public var capacity: Int64
        public var used: Int64
    }
    public var provider: ProviderRecord
    /// Every inventory, sorted by class.
    public var resources: [Resource]
}

public struct CandidateAnswer: Sendable {
    public var candidates: [AllocationCandidate]
    public var summaries: [ProviderSummary]
    static let empty = CandidateAnswer(candidates: [], summaries: [])
}

public enum CandidateSearch {
    static let sharingTrait = "MISC_SHARES_VIA_AGGREGATE"

    /// Placement's summary capacity: `int((total - reserved) * allocation_ratio)`.
    static func summaryCapacity(_ inv: InventoryRecord) -> Int64 {
        let c = inv.capacity
        return c >= 9.2e18 ? Int64.max : Int64(c)
    }

    /// Whether one more `amount` fits a provider's inventory of a class
    /// (capacity, min and max unit, step size), as Placement's query checks it.
    static func fits(_ p: ProviderRecord, _ rc: String, _ amount: Int64) -> Bool {
        guard let inv = p.inventories[rc] else { return false }
        let used = p.usages[rc] ?? 0
        return Double(used) + Double(amount) <= inv.capacity && inv.minUnit <= amount
            && inv.maxUnit >= amount && amount % inv.stepSize == 0
    }

    static func hasAll(_ traits: Set<String>, _ required: [Set<String>]) -> Bool {
        required.allSatisfy { !$0.isDisjoint(with: traits) }
    }

    /// Runs the search. `classExists`/`traitExists` say whether a name is
    /// known; unknown names are errors (checked in Placement's order).
    public static func search(_ q: CandidateQuery, providers list: [ProviderRecord],
                              classExists: (String) throws -> Bool,
                              traitExists: (String) throws -> Bool) throws -> CandidateAnswer {
        let ctx = Context(providers: list)

        // Request-wide: root_required narrows the anchors.
        var anchorRoots: Set<String>?
        if !q.rootRequired.isEmpty || !q.rootForbidden.isEmpty {
            for t in q.rootRequired.sorted() + q.rootForbidden.sorted() where !(try traitExists(t)) {
                throw CandidateError.noSuchTrait(t)
            }
            let roots = list.filter { p in
                p.parent == nil && q.rootRequired.isSubset(of: p.traits) && q.rootForbidden.isDisjoint(with: p.traits)
            }
            if roots.isEmpty { return .empty }
            anchorRoots = Set(roots.map(\.uuid))
        }

        // Placement narrows its set of sharing providers in place while
        // searching a group with member_of, and later groups see the
        // narrowed set; the search keeps that behaviour.
        var sharing = Set(list.filter { $0.traits.contains(sharingTrait) }.map(\.uuid))
        var bySuffix: [(suffix: String, candidates: [AllocationCandidate])] = []
        var amounts: [String: Int64] = [:]
        var multiGroupClasses: Set<String> = []

        for g in q.groups {
            for (rc, _) in g.resources where !(try classExists(rc)) { throw CandidateError.noSuchResourceClass(rc) }
            var inAggregates: Set<String> = []
            if !g.memberOf.isEmpty {
                inAggregates = Set(list.filter { p in g.memberOf.allSatisfy { !$0.isDisjoint(with: p.aggregates) } }.map(\.uuid))
                if inAggregates.isEmpty { return .empty }
            }
            for any in g.requiredTraits { for t in any.sorted() where !(try traitExists(t)) { throw CandidateError.noSuchTrait(t) } }
            for t in g.forbiddenTraits.sorted() where !(try traitExists(t)) { throw CandidateError.noSuchTrait(t) }
            var treeRoot: String?
            if let t = g.inTree {
                guard let p = ctx.byUUID[t] else { return .empty }
                treeRoot = p.root
            }
            var withResource: [String: [ProviderRecord]] = [:]
            for (rc, amount) in g.resources {
                let found = list.filter { (treeRoot == nil || $0.root == treeRoot) && fits($0, rc, amount) }
                if found.isEmpty { return .empty }
                withResource[rc] = found
            }
            for (rc, amount) in g.resources {
                if amounts[rc] != nil { multiGroupClasses.insert(rc) }
                amounts[rc, default: 0] += amount
            }
            let found: [AllocationCandidate]
            if !g.useSameProvider && (!sharing.isEmpty || ctx.hasTrees) {
                found = ctx.spread(g, withResource: withResource, inAggregates: inAggregates, treeRoot: treeRoot,
                                   anchorRoots: anchorRoots, sharing: &sharing)
            } else {
                found = ctx.single(g, withResource: withResource, inAggregates: inAggregates, anchorRoots: anchorRoots)
            }
            if found.isEmpty { return .empty }
            bySuffix.append((g.suffix, found))
        }

        var answer = ctx.merge(bySuffix, q, amounts: amounts, multiGroupClasses: multiGroupClasses)
        if !q.nestedAware && ctx.hasTrees {
            answer.candidates = answer.candidates.filter { c in
                let providers = Set(c.parts.map(\.provider))
                return Set(providers.map { ctx.byUUID[$0]!.root }).count == providers.count
            }
            let used = Set(answer.candidates.flatMap { $0.parts.map(\.provider) })
            answer.summaries = answer.summaries.filter { used.contains($0.provider.uuid) }
        }
        if let limit = q.limit, limit < answer.candidates.count {
            answer.candidates = Array(answer.candidates.prefix(limit))
            let roots = Set(answer.candidates.flatMap { $0.parts.map { ctx.byUUID[$0.provider]!.root } })
            answer.summaries = answer.summaries.filter { roots.contains($0.provider.root) }
        }
        return answer
    }

    struct Context {
        let list: [ProviderRecord]
        let byUUID: [String: ProviderRecord]
        let hasTrees: Bool

        init(providers: [ProviderRecord]) {
            list = providers
            byUUID = Dictionary(providers.map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
            hasTrees = providers.contains { $0.parent != nil }
        }

        /// Roots of every tree with a provider sharing an aggregate with `sharingProvider` (its own included).
        func anchors(of sharingProvider: ProviderRecord) -> [String] {
            var seen: Set<String> = []
            var out: [String] = []
            for p in list where !p.aggregates.isEmpty && !sharingProvider.aggregates.isEmpty {
                if !Set(p.aggregates).isDisjoint(with: sharingProvider.aggregates), seen.insert(p.root).inserted {
                    out.append(p.root)
                }
            }
            return out
        }

        /// A group answered by one provider: every class, trait and aggregate rule on that provider.
        func single(_ g: CandidateGroup, withResource: [String: [ProviderRecord]], inAggregates: Set<String>,
                    anchorRoots: Set<String>?) -> [AllocationCandidate] {
            let hasFilter = !g.requiredTraits.isEmpty || !g.memberOf.isEmpty
            // A group without resources (1.36 same_subtree) matches nothing
            // unless it names traits or aggregates, as in Placement.
            if g.resources.isEmpty && !hasFilter { return [] }
            let holders = withResource.mapValues { Set($0.map(\.uuid)) }
            let matches: [ProviderRecord] = list.filter { p in
                for (rc, _) in g.resources where !holders[rc]!.contains(p.uuid) { return false }
                if !g.requiredTraits.isEmpty && !hasAll(Set(p.traits), g.requiredTraits) { return false }
                if !g.memberOf.isEmpty && !inAggregates.contains(p.uuid) { return false }
                if !g.forbiddenAggregates.isDisjoint(with: p.aggregates) { return false }
                if !g.forbiddenTraits.isDisjoint(with: p.traits) { return false }
                return true
            }
            var out: [AllocationCandidate] = []
            for p in matches {
                let parts = g.resources.map { AllocationCandidate.Part(provider: p.uuid, resourceClass: $0.resourceClass, amount: $0.amount) }
                let c = AllocationCandidate(parts: parts, mappings: [g.suffix: [p.uuid]], anchor: p.root)
                if anchorRoots?.contains(p.root) ?? true { out.append(c) }
                if p.traits.contains(CandidateSearch.sharingTrait) {
                    for anchor in anchors(of: p) where anchor != p.root && (anchorRoots?.contains(anchor) ?? true) {
                        var shared = c
                        shared.anchor = anchor
                        out.append(shared)
                    }
                }
            }
            return out
        }

        /// The unsuffixed group when trees or sharing providers exist: each
        /// class from any provider of one tree, or from a sharing provider in
        /// an aggregate with that tree.
        func spread(_ g: CandidateGroup, withResource: [String: [ProviderRecord]], inAggregates: Set<String>,
                    treeRoot: String?, anchorRoots: Set<String>?, sharing: inout Set<String>) -> [AllocationCandidate] {
            struct Option: Hashable { var provider: String; var root: String; var resourceClass: String }
            let badAggregates: Set<String> = g.forbiddenAggregates.isEmpty ? [] :
                Set(list.filter { !g.forbiddenAggregates.isDisjoint(with: $0.aggregates) }.map(\.uuid))
            var options: Set<Option> = []
            var started = false
            for (rc, _) in g.resources {
                let holders = withResource[rc]!
                var forClass = Set(holders.map { Option(provider: $0.uuid, root: $0.root, resourceClass: rc) })
                if !inAggregates.isEmpty { sharing.formIntersection(inAggregates) }
                let sharingHolders = sharing.intersection(holders.map(\.uuid))
                if !sharingHolders.isEmpty && treeRoot == nil {
                    for s in sharingHolders.sorted() {
                        for anchor in anchors(of: byUUID[s]!) { forClass.insert(Option(provider: s, root: anchor, resourceClass: rc)) }
                    }
                }
                if let anchorRoots {
                    forClass = forClass.filter { anchorRoots.contains($0.root) }
                    if forClass.isEmpty { return [] }
                }
                if !g.memberOf.isEmpty {
                    forClass = forClass.filter { inAggregates.contains($0.provider) || inAggregates.contains($0.root) }
                    if forClass.isEmpty { return [] }
                }
                if !badAggregates.isEmpty {
                    forClass = forClass.filter { !badAggregates.contains($0.provider) && !badAggregates.contains($0.root) }
                    if forClass.isEmpty { return [] }
                }
                if !started {
                    options = forClass
                    started = true
                } else {
                    let common = Set(options.map(\.root)).intersection(forClass.map(\.root))
                    options = options.union(forClass).filter { common.contains($0.root) }
                }
                if options.isEmpty { return [] }
            }

            let amount = Dictionary(g.resources.map { ($0.resourceClass, $0.amount) }, uniquingKeysWith: { _, b in b })
            var out: [AllocationCandidate] = []
            var seen: Set<AllocationCandidate> = []
            let byRoot = Dictionary(grouping: options, by: \.root)
            for root in byRoot.keys.sorted() {
                let byClass = Dictionary(grouping: byRoot[root]!, by: \.resourceClass)
                let lists = byClass.keys.sorted().map { rc in byClass[rc]!.map(\.provider).sorted() }
                let classes = byClass.keys.sorted()
                product(lists) { choice in
                    let providers = choice.map { byUUID[$0]! }
                    var traits: Set<String> = []
                    for p in providers {
                        if !g.forbiddenTraits.isDisjoint(with: p.traits) { return }
                        traits.formUnion(p.traits)
                    }
                    if !hasAll(traits, g.requiredTraits) { return }
                    let parts = zip(choice, classes).map { AllocationCandidate.Part(provider: $0, resourceClass: $1, amount: amount[$1]!) }
                    let c = AllocationCandidate(parts: parts, mappings: [g.suffix: Set(choice)], anchor: root)
                    if seen.insert(c).inserted { out.append(c) }
                }
            }
            return out
        }

        /// Combines the groups' answers per anchor tree.
        func merge(_ bySuffix: [(suffix: String, candidates: [AllocationCandidate])], _ q: CandidateQuery,
                   amounts: [String: Int64], multiGroupClasses: Set<String>) -> CandidateAnswer {
            let allSuffixes = Set(bySuffix.map(\.suffix))
            let granularCount = allSuffixes.subtracting([""]).count
            // anchor -> the groups' candidates, groups in request order
            var anchorsInOrder: [String] = []
            var byAnchor: [String: [String: [AllocationCandidate]]] = [:]
            for (suffix, cands) in bySuffix {
                for c in cands {
                    if byAnchor[c.anchor] == nil { anchorsInOrder.append(c.anchor) }
                    byAnchor[c.anchor, default: [:]][suffix, default: []].append(c)
                }
            }
            var result: [AllocationCandidate] = []
            var seen: Set<AllocationCandidate> = []
            for anchor in anchorsInOrder {
                let groups = byAnchor[anchor]!
                guard Set(groups.keys) == allSuffixes else { continue }
                let lists = bySuffix.map { groups[$0.suffix]! }
                guard enoughOverall(lists, amounts: amounts, multiGroupClasses: multiGroupClasses) else { continue }
                product(lists) { combo in
                    if q.groupPolicy == "isolate" {
                        var granular: Set<String> = []
                        for (i, c) in combo.enumerated() where !bySuffix[i].suffix.isEmpty {
                            granular.formUnion(c.mappings.values.first ?? [])
                        }
                        if granular.count != granularCount { return }
                    }
                    for suffixes in q.sameSubtrees {
                        var chosen: Set<String> = []
                        for c in combo { for s in suffixes { chosen.formUnion(c.mappings[s] ?? []) } }
                        if !sameSubtree(chosen) { return }
                    }
                    var total: [String: [String: Int64]] = [:]
                    var order: [(String, String)] = []
                    var mappings: [String: Set<String>] = [:]
                    for c in combo {
                        for part in c.parts {
                            if total[part.provider]?[part.resourceClass] == nil { order.append((part.provider, part.resourceClass)) }
                            total[part.provider, default: [:]][part.resourceClass, default: 0] += part.amount
                        }
                        for (s, ps) in c.mappings { mappings[s, default: []].formUnion(ps) }
                    }
                    for (p, rc) in order {
                        let rec = byUUID[p]!, inv = rec.inventories[rc]!, n = total[p]![rc]!
                        if (rec.usages[rc] ?? 0) + n > CandidateSearch.summaryCapacity(inv) || n > inv.maxUnit { return }
                    }
                    let parts = order.map { AllocationCandidate.Part(provider: $0.0, resourceClass: $0.1, amount: total[$0.0]![$0.1]!) }
                    let merged = AllocationCandidate(parts: parts, mappings: mappings, anchor: anchor)
                    if seen.insert(merged).inserted { result.append(merged) }
                }
            }
            if result.isEmpty { return .empty }
            let roots = Set(result.flatMap { $0.parts.map { byUUID[$0.provider]!.root } })
            let summaries = list.filter { roots.contains($0.root) }.map { p in
                ProviderSummary(provider: p, resources: p.inventories.keys.sorted().map { rc in
                    .init(resourceClass: rc, capacity: CandidateSearch.summaryCapacity(p.inventories[rc]!), used: p.usages[rc] ?? 0)
                })
            }
            return CandidateAnswer(candidates: result, summaries: summaries)
        }

        /// A tree is dropped early when, for a class several groups ask for,
        /// all its candidate providers together have less capacity than asked.
        func enoughOverall(_ lists: [[AllocationCandidate]], amounts: [String: Int64], multiGroupClasses: Set<String>) -> Bool {
            if multiGroupClasses.isEmpty { return true }
            let providers = Set(lists.flatMap { $0.flatMap { $0.parts.map(\.provider) } })
            for rc in multiGroupClasses {
                let available = providers.reduce(Int64(0)) { sum, p in
                    sum &+ (byUUID[p]!.inventories[rc].map(CandidateSearch.summaryCapacity) ?? 0)
                }
                if amounts[rc]! > available { return false }
            }
            return true
        }

        /// Whether one of the providers is an ancestor of (or is) all the others.
        func sameSubtree(_ uuids: Set<String>) -> Bool {
            if uuids.count <= 1 { return true }
            var common: Set<String>?
            for u in uuids {
                var line: Set<String> = [u]
                var cur = byUUID[u]?.parent
                while let c = cur, line.insert(c).inserted { cur = byUUID[c]?.parent }
                common = common.map { $0.intersection(line) } ?? line
            }
            return !(common ?? []).isDisjoint(with: uuids)
        }
    }
}

/// Calls `body` with each element of the Cartesian product of `lists`, in order.
func product<T>(_ lists: [[T]], _ body: ([T]) -> Void) {
    if lists.isEmpty || lists.contains(where: \.isEmpty) { return }
    var index = [Int](repeating: 0, count: lists.count)
    while true {
        body(index.enumerated().map { lists[$0.offset][$0.element] })
        var k = lists.count - 1
        while k >= 0 {
            index[k] += 1
            if index[k] < lists[k].count { break }
            index[k] = 0
            k -= 1
        }
        if k < 0 { return }
    }
}
