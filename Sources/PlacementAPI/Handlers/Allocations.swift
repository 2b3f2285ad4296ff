import Ledger
import PlacementJSON

extension PlacementAPI {
    /// GET /allocations/{consumer_uuid}: the dict format at every version;
    /// project and user from 1.12, consumer generation from 1.28, type from 1.38.
    /// Written straight from the record: nova reads a consumer's allocations
    /// more than anything else, and building a JSON tree and then walking it
    /// was a third of this answer's own CPU (perf of the GET scenario). The
    /// tree it replaced is the model `AnswerBytesTests` checks it against.
    /// Public for the micro-benchmarks (tools/benchmarks).
    public static func consumerAllocationsBytes(_ c: ConsumerRecord?, _ views: Views, version: Microversion) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320)
        func key(_ k: String) {
            JSONWriter.writeString(k, into: &out)
            out.append(contentsOf: ": ".utf8)
        }
        func int(_ i: Int64) { out.append(contentsOf: String(i).utf8) }
        out.append(contentsOf: "{".utf8)
        key("allocations")
        out.append(contentsOf: "{".utf8)
        if let c {
            for (n, rp) in c.allocations.keys.sorted().enumerated() {
                if n > 0 { out.append(contentsOf: ", ".utf8) }
                key(rp)
                out.append(contentsOf: "{".utf8)
                key("resources")
                out.append(contentsOf: "{".utf8)
                for (m, (rc, amount)) in c.allocations[rp]!.sorted(by: { $0.key < $1.key }).enumerated() {
                    if m > 0 { out.append(contentsOf: ", ".utf8) }
                    key(rc)
                    int(amount)
                }
                out.append(contentsOf: "}, ".utf8)
                key("generation")
                int(try views.providerGeneration(rp) ?? 0)
                out.append(contentsOf: "}".utf8)
            }
        }
        out.append(contentsOf: "}".utf8)
        if let c, !c.allocations.isEmpty, version.atLeast(12) {
            out.append(contentsOf: ", ".utf8)
            key("project_id")
            JSONWriter.writeString(c.project, into: &out)
            out.append(contentsOf: ", ".utf8)
            key("user_id")
            JSONWriter.writeString(c.user, into: &out)
            if version.atLeast(28) {
                out.append(contentsOf: ", ".utf8)
                key("consumer_generation")
                int(c.generation)
            }
            if version.atLeast(38) {
                out.append(contentsOf: ", ".utf8)
                key("consumer_type")
                JSONWriter.writeString(c.consumerType ?? "unknown", into: &out)
            }
        }
        out.append(contentsOf: "}".utf8)
        return out
    }

    static let consumerAllocations: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:allocations:list")
        return try api.read(req) { views, seq in
            let c = try views.consumer(req.param("consumer_uuid"))
            return .json(bytes: try consumerAllocationsBytes(c, views, version: req.version), sequence: seq,
                         lastModified: c?.updated ?? nowMicros())
        }
    }

    static let providerAllocations: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:allocations:list")
        let uuid = req.param("uuid")
        return try api.read(req) { views, seq in
            let p = try provider(views, uuid) { "Resource provider '\(uuid)' not found: " + $0 }
            var allocs = JSONObject()
            var lm: Micros?
            for cu in try views.consumers(of: uuid) {
                guard let c = try views.consumer(cu), let mine = c.allocations[uuid] else { continue }
                var res = JSONObject()
                for (rc, n) in mine.sorted(by: { $0.key < $1.key }) { res[rc] = .int(n) }
                var entry = JSONObject([("resources", .object(res))])
                if req.version.atLeast(28) { entry["consumer_generation"] = .int(c.generation) }
                allocs[cu] = .object(entry)
                lm = max(lm ?? c.updated, c.updated)
            }
            let body: JSON = .object(JSONObject([("allocations", .object(allocs)), ("resource_provider_generation", .int(p.generation))]))
            return .json(body, sequence: seq, lastModified: lm ?? nowMicros())
        }
    }

    /// One consumer's part of a PUT or POST body, already schema-checked.
    static func allocationConsumer(_ uuid: String, _ body: JSON, _ req: PlacementRequest) -> AllocationRequest.Consumer {
        var allocations: [(provider: String, resources: [(String, Int64)])] = []
        func resources(_ j: JSON?) -> [(String, Int64)] {
            (j?.objectValue?.pairs ?? []).map { ($0.key, $0.value.saturatingInt ?? 0) }
        }
        switch body["allocations"] {
        case .array(let list)?:  // before 1.12
            for item in list {
                let rp = item["resource_provider"]?["uuid"]?.stringValue ?? ""
                allocations.removeAll { $0.provider == rp }
                allocations.append((rp, resources(item["resources"])))
            }
        case .object(let o)?:
            for (rp, item) in o.pairs { allocations.append((rp, resources(item["resources"]))) }
        default: break
        }
        var generation: Int64?? = .none
        if req.version.atLeast(28) {
            switch body["consumer_generation"] {
            case let g? where !g.isNull: generation = .some(g.saturatingInt)
            default: generation = .some(nil)
            }
        }
        return AllocationRequest.Consumer(
            uuid: uuid, project: body["project_id"]?.stringValue, user: body["user_id"]?.stringValue,
            generation: generation, consumerType: req.version.atLeast(38) ? body["consumer_type"]?.stringValue : nil,
            allocations: allocations)
    }

    static let putAllocations: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:allocations:update")
        let raw = req.param("consumer_uuid")
        guard raw.isUUIDLike else { throw PlacementError.badRequest("Malformed consumer_uuid: \(raw)") }
        let schema =
            req.version.atLeast(38) ? "allocation-put-1.38" : req.version.atLeast(34) ? "allocation-put-1.34" :
            req.version.atLeast(28) ? "allocation-put-1.28" : req.version.atLeast(12) ? "allocation-put-1.12" :
            req.version.atLeast(8) ? "allocation-put-1.8" : "allocation-put-1.0"
        let body = try req.json(api.schemas[schema])
        let consumer = allocationConsumer(raw.canonicalUUID, body, req)
        let seq = try await api.write(.setAllocations(AllocationRequest(consumers: [consumer], origin: .put)), req)
        return .empty(204, sequence: seq)
    }

    static let postAllocations: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:allocations:manage")
        let schema =
            req.version.atLeast(38) ? "allocations-post-1.38" : req.version.atLeast(34) ? "allocations-post-1.34" :
            req.version.atLeast(28) ? "allocations-post-1.28" : "allocations-post-1.13"
        let body = try req.json(api.schemas[schema])
        let consumers = body.objectValue!.pairs.map { allocationConsumer($0.key, $0.value, req) }
        let seq = try await api.write(.setAllocations(AllocationRequest(consumers: consumers, origin: .post)), req)
        return .empty(204, sequence: seq)
    }

    static let deleteAllocations: Handler = { api, req in
        try req.authorize("placement:allocations:delete")
        let seq = try await api.write(.deleteAllocations(consumer: req.param("consumer_uuid")), req)
        return .empty(204, sequence: seq)
    }
}
