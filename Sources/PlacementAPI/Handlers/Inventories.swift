import Ledger
import PlacementJSON

extension PlacementAPI {
    static func inventoryJSON(_ inv: InventoryRecord, generation: Int64? = nil) -> JSON {
        var o = JSONObject([
            ("total", .int(inv.total)), ("reserved", .int(inv.reserved)), ("min_unit", .int(inv.minUnit)),
            ("max_unit", .int(inv.maxUnit)), ("step_size", .int(inv.stepSize)), ("allocation_ratio", .double(inv.allocationRatio)),
        ])
        // Placement leaves the generation out when it is 0 (`if generation:`).
        if let generation, generation != 0 { o["resource_provider_generation"] = .int(generation) }
        return .object(o)
    }

    static func inventoriesJSON(_ p: ProviderRecord) -> JSON {
        var invs = JSONObject()
        for rc in p.inventories.keys.sorted() { invs[rc] = inventoryJSON(p.inventories[rc]!) }
        return .object(JSONObject([("resource_provider_generation", .int(p.generation)), ("inventories", .object(invs))]))
    }

    /// An inventory body with Placement's defaults filled in.
    static func inventoryRecord(_ body: JSON) -> InventoryRecord {
        func int(_ k: String, _ d: Int64) -> Int64 { body[k]?.saturatingInt ?? d }
        let ratio: Double = body["allocation_ratio"]?.intValue.map(Double.init) ?? {
            if case .double(let d)? = body["allocation_ratio"] { return d }
            return 1.0
        }()
        return InventoryRecord(total: int("total", 0), reserved: int("reserved", 0), minUnit: int("min_unit", 1),
                               maxUnit: int("max_unit", Limits.maxInt), stepSize: int("step_size", 1), allocationRatio: ratio)
    }

    private static func generation(_ body: JSON) -> Int64 {
        body["resource_provider_generation"]?.saturatingInt ?? -1
    }

    static let listInventories: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:inventories:list")
        return try api.read(req) { views, seq in
            let p = try provider(views, req.param("uuid")) { "No resource provider with uuid \(req.param("uuid")) found : " + $0 }
            return .json(inventoriesJSON(p), sequence: seq, lastModified: p.inventories.values.map(\.updated).max())
        }
    }

    static let showInventory: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_providers:inventories:show")
        let rc = req.param("resource_class")
        return try api.read(req) { views, seq in
            let p = try provider(views, req.param("uuid")) { "No resource provider with uuid \(req.param("uuid")) found : " + $0 }
            guard let inv = p.inventories[rc] else {
                throw PlacementError.notFound("No inventory of class \(rc) for \(p.uuid)")
            }
            return .json(inventoryJSON(inv, generation: p.generation), sequence: seq, lastModified: inv.updated)
        }
    }

    static let createInventory: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:inventories:create")
        let uuid = req.param("uuid")
        _ = try api.read { views, _ in try provider(views, uuid) }
        let body = try req.json(api.schemas["inventory-post"])
        let rc = body["resource_class"]!.stringValue!
        let cmd = Command.addInventory(provider: uuid, resourceClass: rc, inventory: inventoryRecord(body),
                                       reservedMayEqualTotal: req.version.atLeast(26))
        let (seq, p) = try await api.write(cmd, req) { views in try views.provider(uuid)! }
        var r = PlacementResponse.json(inventoryJSON(p.inventories[rc]!, generation: p.generation), sequence: seq, status: 201,
                                       lastModified: p.inventories[rc]!.updated)
        r.headers = [("location", req.base + "/resource_providers/\(uuid)/inventories/\(rc)")]
        return r
    }

    static let setInventories: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:inventories:update")
        let uuid = req.param("uuid")
        _ = try api.read { views, _ in try provider(views, uuid) }
        let body = try req.json(api.schemas["inventories-put"])
        let invs = body["inventories"]!.objectValue!.pairs.map { ($0.key, inventoryRecord($0.value)) }
        let cmd = Command.setInventories(provider: uuid, generation: generation(body), inventories: invs,
                                         reservedMayEqualTotal: req.version.atLeast(26))
        let (seq, p) = try await api.write(cmd, req) { views in try views.provider(uuid)! }
        return .json(inventoriesJSON(p), sequence: seq, lastModified: p.inventories.values.map(\.updated).max())
    }

    static let updateInventory: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_providers:inventories:update")
        let uuid = req.param("uuid")
        let rc = req.param("resource_class")
        _ = try api.read { views, _ in try provider(views, uuid) }
        let body = try req.json(api.schemas["inventory-put"])
        let cmd = Command.updateInventory(provider: uuid, resourceClass: rc, generation: generation(body),
                                          inventory: inventoryRecord(body), reservedMayEqualTotal: req.version.atLeast(26))
        let (seq, p) = try await api.write(cmd, req) { views in try views.provider(uuid)! }
        return .json(inventoryJSON(p.inventories[rc]!, generation: p.generation), sequence: seq, lastModified: p.inventories[rc]!.updated)
    }

    static let deleteInventory: Handler = { api, req in
        try req.authorize("placement:resource_providers:inventories:delete")
        let seq = try await api.write(.deleteInventory(provider: req.param("uuid"), resourceClass: req.param("resource_class")), req)
        return .empty(204, sequence: seq)
    }

    static let deleteInventories: Handler = { api, req in
        try req.authorize("placement:resource_providers:inventories:delete")
        let seq = try await api.write(.deleteInventories(provider: req.param("uuid")), req)
        return .empty(204, sequence: seq)
    }
}
