import Ledger
import PlacementJSON

extension PlacementAPI {
    static let providerUsages: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:usages")
        let uuid = req.param("uuid")
        return try api.read(req) { views, seq in
            let p = try provider(views, uuid) { "No resource provider with uuid \(uuid) found: " + $0 }
            var usages = JSONObject()
            for rc in p.inventories.keys.sorted() { usages[rc] = .int(p.usages[rc] ?? 0) }
            let body: JSON = .object(JSONObject([("resource_provider_generation", .int(p.generation)), ("usages", .object(usages))]))
            return .json(body, sequence: seq, lastModified: nowMicros())
        }
    }

    /// GET /usages (1.9): totals of a project (and user); from 1.38 grouped
    /// by consumer type with a consumer count.
    static let totalUsages: ReadHandler = { api, req in
        try req.checkAccept()
        let byType = req.version.atLeast(38)
        try req.validateQuery(api.schemas[byType ? "query-usages-1.38" : "query-usages-1.9"])
        let project = req.queryValue("project_id")!
        // Readers of the project may see its usages (Placement checks after the query).
        try req.authorize("placement:usages", target: ["project_id": project])
        let user = req.queryValue("user_id")
        let typeFilter = byType ? req.queryValue("consumer_type") : nil
        return try api.read(req) { views, seq in
            let records = try views.usages(project: project, user: user)
            var out = JSONObject()
            if !byType {
                var sums: [String: Int64] = [:]
                for r in records { for (rc, n) in r.record.resources { sums[rc, default: 0] += n } }
                for rc in sums.keys.sorted() { out[rc] = .int(sums[rc]!) }
            } else {
                var groups: [String: (resources: [String: Int64], consumers: Int64)] = [:]
                for r in records {
                    let type = r.consumerType.isEmpty ? "unknown" : r.consumerType
                    let key: String
                    switch typeFilter {
                    case "all"?: key = "all"
                    case "unknown"?: guard type == "unknown" else { continue }; key = type
                    case let t?: guard type == t else { continue }; key = type
                    case nil: key = type
                    }
                    var g = groups[key] ?? ([:], 0)
                    for (rc, n) in r.record.resources { g.resources[rc, default: 0] += n }
                    g.consumers += r.record.consumers
                    groups[key] = g
                }
                for key in groups.keys.sorted() {
                    let g = groups[key]!
                    var o = JSONObject()
                    for rc in g.resources.keys.sorted() { o[rc] = .int(g.resources[rc]!) }
                    o["consumer_count"] = .int(g.consumers)
                    out[key] = .object(o)
                }
            }
            return .json(["usages": .object(out)], sequence: seq, lastModified: nowMicros())
        }
    }
}
