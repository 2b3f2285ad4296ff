import Foundation
import Ledger
import PlacementJSON

extension PlacementAPI {
    /// A provider in the shape of the negotiated microversion.
    static func providerJSON(_ p: ProviderRecord, _ req: PlacementRequest) -> JSON {
        let url = "/resource_providers/\(p.uuid)"
        var rels = ["inventories", "usages"]
        if req.version.atLeast(1) { rels.append("aggregates") }
        if req.version.atLeast(6) { rels.append("traits") }
        if req.version.atLeast(11) { rels.append("allocations") }
        let links: [JSON] = [.object(JSONObject([("rel", "self"), ("href", .string(url))]))]
            + rels.map { .object(JSONObject([("rel", .string($0)), ("href", .string(url + "/" + $0))])) }
        var o = JSONObject([
            ("uuid", .string(p.uuid)), ("name", .string(p.name)), ("generation", .int(p.generation)), ("links", .array(links)),
        ])
        if req.version.atLeast(14) {
            o["parent_provider_uuid"] = p.parent.map(JSON.string) ?? .null
            o["root_provider_uuid"] = .string(p.root)
        }
        return .object(o)
    }

    /// Looks a provider up for a read; Placement's 404 wording.
    static func provider(_ views: Views, _ uuid: String, detail: ((String) -> String)? = nil) throws -> ProviderRecord {
        guard let p = try views.provider(uuid) else {
            let base = "No resource provider with uuid \(uuid) found"
            throw PlacementError.notFound(detail.map { $0(base) } ?? base)
        }
        return p
    }

    static let showProvider: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:show")
        return try api.read(req) { views, seq in
            let p = try provider(views, req.param("uuid"))
            return .json(providerJSON(p, req), sequence: seq, lastModified: p.updated)
        }
    }

    static let listProviders: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:list")
        let schema: String =
            req.version.atLeast(18) ? "query-resource-providers-1.18" :
            req.version.atLeast(14) ? "query-resource-providers-1.14" :
            req.version.atLeast(4) ? "query-resource-providers-1.4" :
            req.version.atLeast(3) ? "query-resource-providers-1.3" : "query-resource-providers-1.0"
        try req.validateQuery(api.schemas[schema])
        let filter = try ProviderFilter(req)
        return try api.read(req) { views, seq in
            let found = try filter.apply(views)
            let lm = found.map(\.updated).max() ?? nowMicros()
            return .json(["resource_providers": .array(found.map { providerJSON($0, req) })], sequence: seq, lastModified: lm)
        }
    }

    static let createProvider: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:create")
        let body = try req.json(api.schemas[req.version.atLeast(14) ? "resource-provider-post-1.14" : "resource-provider-post-1.0"])
        let uuid = body["uuid"]?.stringValue?.canonicalUUID ?? UUIDGen.make()
        let name = body["name"]!.stringValue!
        let parent = body["parent_provider_uuid"]?.stringValue?.canonicalUUID
        let (seq, p) = try await api.write(.createProvider(uuid: uuid, name: name, parent: parent), req) { views in
            try views.provider(uuid)!
        }
        let location = [("location", req.base + "/resource_providers/\(uuid)")]
        if req.version.atLeast(20) {
            var r = PlacementResponse.json(providerJSON(p, req), sequence: seq, lastModified: p.updated)
            r.headers = location
            return r
        }
        var r = PlacementResponse.empty(201, sequence: seq)
        r.headers = location
        return r
    }

    static let updateProvider: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:update")
        let uuid = req.param("uuid")
        _ = try api.read { views, _ in try provider(views, uuid) }
        let body = try req.json(api.schemas[req.version.atLeast(14) ? "resource-provider-put-1.14" : "resource-provider-put-1.0"])
        let parent: String??
        if let given = body["parent_provider_uuid"] {
            parent = .some(given.stringValue?.canonicalUUID)
        } else {
            parent = .none
        }
        let cmd = Command.updateProvider(uuid: uuid, name: body["name"]!.stringValue!, parent: parent,
                                         allowReparenting: req.version.atLeast(37))
        let (seq, p) = try await api.write(cmd, req) { views in try views.provider(uuid) }
        guard let p else { throw PlacementError.notFound("No resource provider with uuid \(uuid) found") }
        return .json(providerJSON(p, req), sequence: seq, lastModified: p.updated)
    }

    static let deleteProvider: Handler = { api, req in
        try req.authorize("placement:resource_providers:delete")
        let seq = try await api.write(.deleteProvider(uuid: req.param("uuid")), req)
        return .empty(204, sequence: seq)
    }
}

/// GET /resource_providers filters, parsed and checked as Placement does.
struct ProviderFilter {
    var name: String?
    var uuid: String?
    var inTree: String?
    /// Each set: the provider must be in at least one of its aggregates.
    var memberOf: [Set<String>] = []
    var forbiddenAggregates: Set<String> = []
    var resources: [(String, Int64)] = []
    /// Each set: at least one of its traits (from 1.39 `in:`).
    var requiredTraits: [Set<String>] = []
    var forbiddenTraits: Set<String> = []

    init(_ req: PlacementRequest) throws {
        name = req.queryValue("name")
        uuid = req.queryValue("uuid")
        inTree = req.queryValue("in_tree")
        (memberOf, forbiddenAggregates) = try Self.memberOfParams(req, suffix: "")
        if let r = req.queryValue("resources") { resources = try Self.resources(r) }
        (requiredTraits, forbiddenTraits) = try Self.requiredParams(req, suffix: "")
    }

    /// Every `member_of{suffix}` of the query: the aggregate sets a provider
    /// must be in (one of each), and the forbidden ones.
    static func memberOfParams(_ req: PlacementRequest, suffix: String) throws -> ([Set<String>], Set<String>) {
        let values = req.queryValues("member_of" + suffix)
        if !req.version.atLeast(24) && values.count > 1 {
            throw PlacementError.badRequest("Multiple member_of\(suffix) parameters are not supported")
        }
        var required: [Set<String>] = [], forbidden: Set<String> = []
        for value in values {
            let (r, f) = try memberOf(value)
            if !r.isEmpty { required.append(r) }
            if !f.isEmpty {
                if !req.version.atLeast(32) {
                    throw PlacementError.badRequest("Forbidden member_of\(suffix) parameters are not supported in the specified microversion")
                }
                forbidden.formUnion(f)
            }
        }
        return (required, forbidden)
    }

    /// Every `required{suffix}` of the query (only the last before 1.39).
    static func requiredParams(_ req: PlacementRequest, suffix: String) throws -> ([Set<String>], Set<String>) {
        var values = req.queryValues("required" + suffix)
        if !req.version.atLeast(39) { values = Array(values.suffix(1)) }
        var required: [Set<String>] = [], forbidden: Set<String> = []
        for value in values {
            let (r, f) = try traits(value, allowForbidden: req.version.atLeast(22), allowAny: req.version.atLeast(39))
            required += r
            forbidden.formUnion(f)
        }
        return (required, forbidden)
    }

    static func memberOf(_ value: String) throws -> (Set<String>, Set<String>) {
        if value.contains(","), !(value.hasPrefix("in:") || value.hasPrefix("!in:")) {
            throw PlacementError.badRequest("Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion. Got: \(value)")
        }
        var required: Set<String> = [], forbidden: Set<String> = []
        if value.hasPrefix("!in:") {
            forbidden = Set(value.dropFirst(4).split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        } else if value.hasPrefix("!") {
            forbidden = [String(value.dropFirst())]
        } else if value.hasPrefix("in:") {
            required = Set(value.dropFirst(3).split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        } else {
            required = [value]
        }
        for agg in required.union(forbidden) where !agg.isUUIDLike {
            throw PlacementError.badRequest("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: \(agg)")
        }
        return (required, forbidden)
    }

    static func resources(_ qs: String) throws -> [(String, Int64)] {
        let form = "Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024."
        if qs.trimmed.isEmpty { throw PlacementError.badRequest(form + " Got: empty string.") }
        var out: [(String, Int64)] = []
        for item in qs.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw PlacementError.badRequest(form + " Got: \(item).") }
            let rc = String(parts[0])
            guard let amount = Int64(parts[1].trimmed) else {
                throw PlacementError.badRequest("Requested resource \(rc) expected positive integer amount. Got: \(parts[1]).")
            }
            if amount < 1 { throw PlacementError.badRequest("Requested resource \(rc) requires amount >= 1. Got: \(amount).") }
            out.removeAll { $0.0 == rc }
            out.append((rc, amount))
        }
        return out
    }

    static func traits(_ val: String, allowForbidden: Bool, allowAny: Bool) throws -> ([Set<String>], Set<String>) {
        if val.hasPrefix("in:") {
            if !allowAny {
                throw PlacementError.badRequest("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: \(val)")
            }
            let any = Set(val.dropFirst(3).split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed))
            if any.contains("") {
                throw PlacementError.badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: \(val)")
            }
            if any.contains(where: { $0.hasPrefix("!") }) {
                throw PlacementError.badRequest("Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: \(val)")
            }
            return ([any], [])
        }
        let all = val.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed)
        let forbidden = Set(all.filter { $0.hasPrefix("!") }.map { String($0.drop(while: { $0 == "!" })) })
        if all.contains("") || forbidden.contains("") {
            let form = allowForbidden ? "HW_CPU_X86_VMX,!CUSTOM_MAGIC" : "HW_CPU_X86_VMX,CUSTOM_MAGIC"
            throw PlacementError.badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: \(form). Got an empty trait in: \(val)")
        }
        if !forbidden.isEmpty && !allowForbidden {
            throw PlacementError.badRequest("Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: \(val)")
        }
        return (all.filter { !$0.hasPrefix("!") }.map { [$0] }, forbidden)
    }

    func apply(_ views: Views) throws -> [ProviderRecord] {
        for (rc, _) in resources where !(try views.resourceClassExists(rc)) {
            throw PlacementError.badRequest("Invalid resource class in resources parameter: No such resource class \(rc).")
        }
        let named = requiredTraits.flatMap { $0 } + forbiddenTraits
        let missing = try named.filter { !(try views.traitExists($0)) }
        if !missing.isEmpty {
            throw PlacementError.badRequest("Invalid trait(s) in \"required\" parameter: No such trait(s): \(Set(missing).sorted().joined(separator: ", ")).")
        }
        var candidates: [ProviderRecord]
        if let uuid {
            candidates = try views.provider(uuid).map { [$0] } ?? []
        } else if let name {
            candidates = try views.providerUUID(named: name).flatMap { try views.provider($0) }.map { [$0] } ?? []
        } else {
            candidates = try views.allProviders()
        }
        var treeRoot: String?
        if let inTree {
            guard let t = try views.provider(inTree) else { return [] }
            treeRoot = t.root
        }
        return candidates.filter { p in
            if let name, p.name != name { return false }
            if let treeRoot, p.root != treeRoot { return false }
            for any in memberOf where p.aggregates.allSatisfy({ !any.contains($0) }) { return false }
            if p.aggregates.contains(where: forbiddenAggregates.contains) { return false }
            for any in requiredTraits where p.traits.allSatisfy({ !any.contains($0) }) { return false }
            if p.traits.contains(where: forbiddenTraits.contains) { return false }
            for (rc, amount) in resources {
                guard let inv = p.inventories[rc] else { return false }
                let used = p.usages[rc] ?? 0
                if inv.capacity < Double(used + amount) || amount < inv.minUnit || amount > inv.maxUnit || amount % inv.stepSize != 0 {
                    return false
                }
            }
            return true
        }
    }
}

/// Random (version 4) UUIDs, as Placement generates them.
enum UUIDGen {
    static func make() -> String { RequestID.uuid4() }
}
