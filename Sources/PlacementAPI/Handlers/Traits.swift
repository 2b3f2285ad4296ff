import Ledger
import PlacementJSON

extension PlacementAPI {
    static let listTraits: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:traits:list")
        try req.validateQuery(api.schemas["query-traits"])
        var prefix: String?
        var only: Set<String>?
        if let name = req.queryValue("name") {
            let parts = name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw PlacementError.badRequest("Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"\(name)\"")
            }
            if parts[0] == "in" { only = Set(parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)) }
            if parts[0] == "startswith" { prefix = String(parts[1]) }
        }
        var associated: Bool?
        if let a = req.queryValue("associated") {
            guard ["true", "false"].contains(a.lowercased()) else {
                throw PlacementError.badRequest("The query parameter \"associated\" only accepts \"true\" or \"false\"")
            }
            associated = a.lowercased() == "true"
        }
        return try api.read(req) { views, seq in
            let custom = try views.customTraits()
            var names = StandardTraits.all + custom.map(\.name)
            if let prefix { names = names.filter { $0.hasPrefix(prefix) } }
            if let only { names = names.filter(only.contains) }
            if let associated { names = try names.filter { try views.traitInUse($0) == associated } }
            let lm = custom.map(\.created).max() ?? nowMicros()
            return .json(["traits": .array(names.map(JSON.string))], sequence: seq, lastModified: lm)
        }
    }

    static let showTrait: ReadHandler = { api, req in
        try req.authorize("placement:traits:show")
        let name = req.param("name")
        return try api.read(req) { views, seq in
            guard try views.traitExists(name) else { throw PlacementError.notFound("No such trait(s): \(name).") }
            var r = PlacementResponse.empty(204, sequence: seq)
            r.cacheHeaders = true
            r.lastModified = try views.customTrait(name)?.created ?? nowMicros()
            return r
        }
    }

    static let putTrait: Handler = { api, req in
        try req.authorize("placement:traits:update")
        let name = req.param("name")
        if api.schemas["trait-name"].validate(.string(name)) != nil {
            throw PlacementError.badRequest("The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"")
        }
        let (seq, created) = try await api.writeChanged(.ensureTrait(name: name), req)
        var r = PlacementResponse.empty(created ? 201 : 204, sequence: seq)
        r.headers = [("location", req.base + "/traits/\(name)")]
        r.cacheHeaders = true
        r.lastModified = try api.read { views, _ in try views.customTrait(name)?.created } ?? nowMicros()
        return r
    }

    static let deleteTrait: Handler = { api, req in
        try req.authorize("placement:traits:delete")
        let seq = try await api.write(.deleteTrait(name: req.param("name")), req)
        return .empty(204, sequence: seq)
    }

    static func providerTraitsJSON(_ p: ProviderRecord) -> JSON {
        .object(JSONObject([("traits", .array(p.traits.map(JSON.string))), ("resource_provider_generation", .int(p.generation))]))
    }

    static let listProviderTraits: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:traits:list")
        let uuid = req.param("uuid")
        return try api.read(req) { views, seq in
            let p = try provider(views, uuid) { "No resource provider with uuid \(uuid) found: " + $0 }
            return .json(providerTraitsJSON(p), sequence: seq, lastModified: nowMicros())
        }
    }

    static let setProviderTraits: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:traits:update")
        let uuid = req.param("uuid")
        let body = try req.json(api.schemas["traits-put"])
        let traits = body["traits"]!.arrayValue!.compactMap(\.stringValue)
        _ = try api.read { views, _ in try provider(views, uuid) }
        let generation = body["resource_provider_generation"]?.saturatingInt ?? -1
        let (seq, p) = try await api.write(.setProviderTraits(provider: uuid, generation: generation, traits: traits), req) { views in
            try views.provider(uuid)!
        }
        return .json(providerTraitsJSON(p), sequence: seq, lastModified: nowMicros())
    }

    static let deleteProviderTraits: Handler = { api, req in
        try req.authorize("placement:resource_providers:traits:delete")
        let seq = try await api.write(.deleteProviderTraits(provider: req.param("uuid")), req)
        return .empty(204, sequence: seq)
    }

    static func aggregatesJSON(_ aggregates: [String], _ p: ProviderRecord, _ req: PlacementRequest) -> JSON {
        var o = JSONObject([("aggregates", .array(aggregates.map(JSON.string)))])
        if req.version.atLeast(19) { o["resource_provider_generation"] = .int(p.generation) }
        return .object(o)
    }

    static let listAggregates: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:aggregates:list")
        return try api.read(req) { views, seq in
            let p = try provider(views, req.param("uuid"))
            return .json(aggregatesJSON(p.aggregates, p, req), sequence: seq, lastModified: nowMicros())
        }
    }

    static let setAggregates: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:aggregates:update")
        let uuid = req.param("uuid")
        _ = try api.read { views, _ in try provider(views, uuid) }
        let withGeneration = req.version.atLeast(19)
        let body = try req.json(api.schemas[withGeneration ? "aggregates-put-1.19" : "aggregates-put-1.1"])
        let list = (withGeneration ? body["aggregates"] : body)?.arrayValue?.compactMap(\.stringValue) ?? []
        let generation = withGeneration ? (body["resource_provider_generation"]?.saturatingInt ?? -1) : nil
        let (seq, p) = try await api.write(.setProviderAggregates(provider: uuid, generation: generation, aggregates: list), req) { views in
            try views.provider(uuid)!
        }
        return .json(aggregatesJSON(list, p, req), sequence: seq, lastModified: nowMicros())
    }
}
