import Ledger
import PlacementJSON

extension PlacementAPI {
    /// POST /reshaper (1.30): move inventories and allocations among providers atomically.
    static let reshape: Handler = { api, req in
        try req.requireJSON()
        // Placement's default: the service role only (nova's report client reshapes).
        try req.authorize("placement:reshaper:reshape")
        let schema = req.version.atLeast(38) ? "reshaper-1.38" : req.version.atLeast(34) ? "reshaper-1.34" : "reshaper-1.30"
        let body = try req.json(api.schemas[schema])
        let inventories = body["inventories"]!.objectValue!.pairs.map { entry in
            (provider: entry.key,
             generation: entry.value["resource_provider_generation"]?.saturatingInt ?? -1,
             inventories: (entry.value["inventories"]?.objectValue?.pairs ?? []).map { ($0.key, inventoryRecord($0.value)) })
        }
        let consumers = body["allocations"]!.objectValue!.pairs.map { allocationConsumer($0.key, $0.value, req) }
        let seq = try await api.write(.reshape(inventories: inventories, allocations: AllocationRequest(consumers: consumers, origin: .reshaper)), req)
        return .empty(204, sequence: seq)
    }
}
