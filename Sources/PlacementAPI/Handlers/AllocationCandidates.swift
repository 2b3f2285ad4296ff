import Foundation
import Ledger
import PlacementJSON

extension PlacementAPI {
    /// GET /allocation_candidates (1.10+).
    static let listAllocationCandidates: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:allocation_candidates:list")
        let schemaVersion = [36, 35, 33, 31, 25, 21, 17, 16].first { req.version.atLeast($0) } ?? 10
        try req.validateQuery(api.schemas["query-allocation-candidates-1.\(schemaVersion)"])
        let query = try CandidateRequest.parse(req)
        return try api.read(req) { views, seq in
            let answer: CandidateAnswer
            do {
                answer = try CandidateSearch.search(query, providers: try views.allProviders(),
                                                    classExists: views.resourceClassExists, traitExists: views.traitExists)
            } catch CandidateError.noSuchResourceClass(let rc) {
                throw PlacementError.badRequest("Invalid resource class in resources parameter: No such resource class \(rc).")
            } catch CandidateError.noSuchTrait(let t) {
                throw PlacementError.badRequest("No such trait(s): \(t).")
            }
            // Placement lists a provider's traits in trait id order: the
            // standard traits (made at start) before custom ones, which come
            // in the order they were created.
            var created: [String: Micros] = [:]
            for t in Set(answer.summaries.flatMap(\.provider.traits)) where !StandardTraits.set.contains(t) {
                created[t] = try views.customTrait(t)?.created ?? 0
            }
            let ordered: ([String]) -> [String] = { traits in
                traits.sorted { a, b in
                    let ka = (created[a] ?? -1, a), kb = (created[b] ?? -1, b)
                    return ka < kb
                }
            }
            return .json(CandidateRequest.render(answer, query, req, traitOrder: ordered), sequence: seq, lastModified: nowMicros())
        }
    }
}

/// Reading the query of GET /allocation_candidates into a `CandidateQuery`,
/// with Placement's checks and messages, and writing the answer back out.
enum CandidateRequest {
    static let prefixes = ["resources", "required", "member_of", "in_tree"]

    /// Splits `resources1` into ("resources", "1") when the suffix is valid
    /// at the request's microversion.
    static func groupKey(_ key: String, verbose: Bool) -> (prefix: String, suffix: String)? {
        for prefix in prefixes where key.hasPrefix(prefix) {
            let suffix = key.dropFirst(prefix.count)
            if suffix.isEmpty { return (prefix, "") }
            let ok: Bool
            if verbose {
                ok = suffix.count <= 64 && suffix.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
            } else {
                ok = suffix.first != "0" && suffix.allSatisfy { $0.isASCII && $0.isNumber }
            }
            if ok { return (prefix, String(suffix)) }
        }
        return nil
    }

    static func parse(_ req: PlacementRequest) throws -> CandidateQuery {
        var q = CandidateQuery()
        q.nestedAware = req.version.atLeast(29)
        if let limit = req.queryValues("limit").first { q.limit = Int(limit) }
        q.groupPolicy = req.queryValues("group_policy").first

        let rootRequired = req.queryValues("root_required")
        if let value = rootRequired.first {
            if rootRequired.count > 1 {
                throw PlacementError(400, "Query parameter 'root_required' may be specified only once.", code: "placement.query.duplicate_key")
            }
            let (required, forbidden) = try ProviderFilter.traits(value, allowForbidden: true, allowAny: false)
            q.rootRequired = Set(required.flatMap { $0 })
            q.rootForbidden = forbidden
            let conflicts = q.rootRequired.intersection(forbidden)
            if !conflicts.isEmpty {
                throw PlacementError(400, "Conflicting required and forbidden traits found in root_required: \(conflicts.sorted().joined(separator: ", "))",
                                     code: "placement.query.bad_value")
            }
        }
        for value in req.queryValues("same_subtree") {
            let suffixes = Set(value.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed))
            if suffixes.contains("") {
                throw PlacementError(400, "Empty string (unsuffixed group) can not be specified in `same_subtree` ", code: "placement.query.bad_value")
            }
            q.sameSubtrees.append(suffixes)
        }

        // Groups, in the order their first parameter appears.
        var order: [String] = []
        var groups: [String: CandidateGroup] = [:]
        var done: Set<String> = []
        for (key, value) in req.query {
            guard let (prefix, suffix) = groupKey(key, verbose: req.version.atLeast(33)) else { continue }
            if groups[suffix] == nil {
                order.append(suffix)
                groups[suffix] = CandidateGroup(suffix: suffix)
            }
            switch prefix {
            case "resources":
                groups[suffix]!.resources = try ProviderFilter.resources(value).map { ($0.0, $0.1) }
            case "in_tree":
                let t = value.trimmed
                guard t.isUUIDLike else {
                    throw PlacementError.badRequest("Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: \(value)")
                }
                groups[suffix]!.inTree = t
            default:
                // required/member_of read every value of the key at once
                guard done.insert(key).inserted else { continue }
                if prefix == "required" {
                    (groups[suffix]!.requiredTraits, groups[suffix]!.forbiddenTraits) = try ProviderFilter.requiredParams(req, suffix: suffix)
                } else {
                    (groups[suffix]!.memberOf, groups[suffix]!.forbiddenAggregates) = try ProviderFilter.memberOfParams(req, suffix: suffix)
                }
            }
        }
        q.groups = order.map { groups[$0]! }
        try check(q, req)
        if q.groupPolicy == nil && q.groups.filter(\.useSameProvider).count > 1 {
            throw PlacementError.badRequest("The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.")
        }
        return q
    }

    static func pyList(_ items: [String]) -> String { PythonRepr.of(.array(items.map { .string($0) })) }

    /// The group checks Placement makes after parsing.
    static func check(_ q: CandidateQuery, _ req: PlacementRequest) throws {
        if req.version.atLeast(36) {
            let resourceless = q.groups.filter { $0.resources.isEmpty }.map(\.suffix)
            if resourceless.count == q.groups.count {
                throw PlacementError(400, "There must be at least one resources or resources[$S] parameter.", code: "placement.query.missing_value")
            }
            let inSubtrees = q.sameSubtrees.reduce(Set<String>()) { $0.union($1) }
            let bad = resourceless.filter { !inSubtrees.contains($0) }.sorted()
            if !bad.isEmpty {
                throw PlacementError(400, "Resourceless suffixed group request should be specified in `same_subtree` query param: bad group(s) - \(pyList(bad)).",
                                     code: "placement.query.bad_value")
            }
            let known = Set(q.groups.map(\.suffix))
            let unknown = inSubtrees.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty {
                throw PlacementError(400, "Real suffixes should be specified in `same_subtree`: \(pyList(unknown)) not found in \(pyList(q.groups.map(\.suffix))).",
                                     code: "placement.query.bad_value")
            }
        } else {
            let traitOrphans = q.groups.filter { !$0.requiredTraits.isEmpty && $0.resources.isEmpty }.map { "required" + $0.suffix }
            if !traitOrphans.isEmpty {
                throw PlacementError.badRequest("All traits parameters must be associated with resources.  Found the following orphaned traits keys: \(traitOrphans.joined(separator: ", "))")
            }
            let aggOrphans = q.groups.filter { $0.resources.isEmpty && !($0.memberOf.isEmpty && $0.forbiddenAggregates.isEmpty) }
                .map { "member_of" + $0.suffix }
            if !aggOrphans.isEmpty {
                throw PlacementError.badRequest("All member_of parameters must be associated with resources. Found the following orphaned member_of keys: \(aggOrphans.joined(separator: ", "))")
            }
            if !q.groups.allSatisfy({ !$0.resources.isEmpty }) {
                throw PlacementError.badRequest("All request groups must specify resources.")
            }
            if q.groups.isEmpty {
                throw PlacementError.badRequest("At least one request group (`resources` or `resources{$S}`) is required.")
            }
        }
        if req.version.atLeast(22) {
            var conflicts: [String] = []
            for g in q.groups {
                for any in g.requiredTraits where any.isSubset(of: g.forbiddenTraits) {
                    conflicts.append("required\(g.suffix): (\(any.sorted().joined(separator: ", ")))")
                }
            }
            if !conflicts.isEmpty {
                throw PlacementError.badRequest("Conflicting required and forbidden traits found in the following traits keys: \(conflicts.sorted().joined(separator: ", "))")
            }
        }
    }

    static func render(_ answer: CandidateAnswer, _ q: CandidateQuery, _ req: PlacementRequest,
                       traitOrder: ([String]) -> [String]) -> JSON {
        var requests: [JSON] = []
        for c in answer.candidates {
            var byProvider: [(String, JSONObject)] = []
            for part in c.parts {
                if let i = byProvider.firstIndex(where: { $0.0 == part.provider }) {
                    byProvider[i].1[part.resourceClass] = .int(part.amount)
                } else {
                    byProvider.append((part.provider, JSONObject([(part.resourceClass, .int(part.amount))])))
                }
            }
            if req.version.atLeast(12) {
                var allocations = JSONObject()
                for (p, res) in byProvider { allocations[p] = .object(JSONObject([("resources", .object(res))])) }
                var o = JSONObject([("allocations", .object(allocations))])
                if req.version.atLeast(34) {
                    var m = JSONObject()
                    for s in c.mappings.keys.sorted() { m[s] = .array(c.mappings[s]!.sorted().map { .string($0) }) }
                    o["mappings"] = .object(m)
                }
                requests.append(.object(o))
            } else {
                let list: [JSON] = byProvider.map { p, res in
                    .object(JSONObject([("resource_provider", .object(JSONObject([("uuid", .string(p))]))), ("resources", .object(res))]))
                }
                requests.append(["allocations": .array(list)])
            }
        }
        let requested = Set(q.groups.flatMap { $0.resources.map(\.resourceClass) })
        var summaries = JSONObject()
        for s in answer.summaries {
            var res = JSONObject()
            for r in s.resources where req.version.atLeast(27) || requested.contains(r.resourceClass) {
                res[r.resourceClass] = .object(JSONObject([("capacity", .int(r.capacity)), ("used", .int(r.used))]))
            }
            var o = JSONObject([("resources", .object(res))])
            if req.version.atLeast(17) { o["traits"] = .array(traitOrder(s.provider.traits).map { .string($0) }) }
            if req.version.atLeast(29) {
                o["parent_provider_uuid"] = s.provider.parent.map { .string($0) } ?? .null
                o["root_provider_uuid"] = .string(s.provider.root)
            }
            summaries[s.provider.uuid] = .object(o)
        }
        return .object(JSONObject([("allocation_requests", .array(requests)), ("provider_summaries", .object(summaries))]))
    }
}
