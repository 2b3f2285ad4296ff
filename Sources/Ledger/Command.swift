/// A request to change state, already parsed and schema-checked by the API
/// layer, with the microversion-dependent choices resolved into flags.
public enum Command: Sendable {
    case createProvider(uuid: String, name: String, parent: String?)
    /// `parent` nil: not given (before 1.14, or absent); `.some(nil)`: un-parent.
    case updateProvider(uuid: String, name: String, parent: String??, allowReparenting: Bool)
    case deleteProvider(uuid: String)

    /// POST /resource_providers/{uuid}/inventories
    case addInventory(provider: String, resourceClass: String, inventory: InventoryRecord, reservedMayEqualTotal: Bool)
    /// PUT /resource_providers/{uuid}/inventories
    case setInventories(provider: String, generation: Int64, inventories: [(String, InventoryRecord)], reservedMayEqualTotal: Bool)
    /// PUT /resource_providers/{uuid}/inventories/{rc}
    case updateInventory(provider: String, resourceClass: String, generation: Int64, inventory: InventoryRecord, reservedMayEqualTotal: Bool)
    /// DELETE /resource_providers/{uuid}/inventories/{rc}
    case deleteInventory(provider: String, resourceClass: String)
    /// DELETE /resource_providers/{uuid}/inventories (1.5)
    case deleteInventories(provider: String)

    /// POST /resource_classes
    case createResourceClass(name: String)
    /// PUT /resource_classes/{name} from 1.7: create if missing.
    case ensureResourceClass(name: String)
    /// PUT /resource_classes/{name} 1.2 to 1.6: rename.
    case renameResourceClass(from: String, to: String)
    case deleteResourceClass(name: String)

    /// PUT /traits/{name}: create if missing.
    case ensureTrait(name: String)
    case deleteTrait(name: String)
    case setProviderTraits(provider: String, generation: Int64, traits: [String])
    case deleteProviderTraits(provider: String)
    /// `generation` nil before 1.19 (no check, no bump).
    case setProviderAggregates(provider: String, generation: Int64?, aggregates: [String])

    /// PUT /allocations/{c} (one consumer) and POST /allocations (several).
    case setAllocations(AllocationRequest)
    /// DELETE /allocations/{c}
    case deleteAllocations(consumer: String)
    /// POST /reshaper (1.30): new inventories of some providers (with their
    /// generations) and new allocations of some consumers, all or nothing.
    case reshape(inventories: [(provider: String, generation: Int64, inventories: [(String, InventoryRecord)])],
                 allocations: AllocationRequest)
}

/// What PUT or POST /allocations asks, in request order.
public struct AllocationRequest: Sendable {
    public struct Consumer: Sendable {
        public var uuid: String
        /// nil before 1.8: Placement's "incomplete consumer" ids are used.
        public var project: String?
        public var user: String?
        /// Checked from 1.28; `.some(nil)` means "a new consumer".
        public var generation: Int64??
        /// Required from 1.38.
        public var consumerType: String?
        /// provider -> [(class, amount)] in request order; empty clears.
        public var allocations: [(provider: String, resources: [(String, Int64)])]
        public init(uuid: String, project: String?, user: String?, generation: Int64??, consumerType: String?,
                    allocations: [(provider: String, resources: [(String, Int64)])]) {
            self.uuid = uuid
            self.project = project
            self.user = user
            self.generation = generation
            self.consumerType = consumerType
            self.allocations = allocations
        }
    }
    /// Which request it came from: the three word some errors differently.
    public enum Origin: Sendable { case put, post, reshaper }
    public var consumers: [Consumer]
    public var origin: Origin
    public init(consumers: [Consumer], origin: Origin) {
        self.consumers = consumers
        self.origin = origin
    }
}

/// Placement's stand-in ids for consumers written before 1.8.
public let incompleteConsumerID = "00000000-0000-0000-0000-000000000000"
