/// Microseconds since the Unix epoch, UTC: the ledger's only notion of time.
public typealias Micros = Int64

/// One inventory of one resource class on one provider, as Placement stores it.
public struct InventoryRecord: Codable, Equatable, Sendable {
    public var total: Int64
    public var reserved: Int64
    public var minUnit: Int64
    public var maxUnit: Int64
    public var stepSize: Int64
    public var allocationRatio: Double
    public var updated: Micros

    public init(total: Int64, reserved: Int64 = 0, minUnit: Int64 = 1, maxUnit: Int64 = Limits.maxInt,
                stepSize: Int64 = 1, allocationRatio: Double = 1.0, updated: Micros = 0) {
        self.total = total
        self.reserved = reserved
        self.minUnit = minUnit
        self.maxUnit = maxUnit
        self.stepSize = stepSize
        self.allocationRatio = allocationRatio
        self.updated = updated
    }

    /// Placement's capacity: `(total - reserved) * allocation_ratio`, a float.
    public var capacity: Double { Double(total - reserved) * allocationRatio }

    /// Equal in everything a client sets (the timestamp aside).
    public func sameSettings(as other: InventoryRecord) -> Bool {
        total == other.total && reserved == other.reserved && minUnit == other.minUnit
            && maxUnit == other.maxUnit && stepSize == other.stepSize && allocationRatio == other.allocationRatio
    }

    enum CodingKeys: String, CodingKey {
        case total, reserved, updated
        case minUnit = "min_unit", maxUnit = "max_unit", stepSize = "step_size"
        case allocationRatio = "allocation_ratio"
    }
}

/// The per-provider view: what GET /resource_providers/{uuid} and its
/// sub-resources read.
public struct ProviderRecord: Codable, Equatable, Sendable {
    public var uuid: String
    public var name: String
    public var generation: Int64
    public var parent: String?
    public var root: String
    public var inventories: [String: InventoryRecord]
    /// Sum of allocations per resource class (absent means 0).
    public var usages: [String: Int64]
    public var traits: [String]
    public var aggregates: [String]
    public var created: Micros
    public var updated: Micros
}

/// The per-consumer view: what GET /allocations/{consumer} reads.
public struct ConsumerRecord: Codable, Equatable, Sendable {
    public var uuid: String
    public var project: String
    public var user: String
    /// nil for consumers written before 1.38 without a type ("unknown").
    public var consumerType: String?
    public var generation: Int64
    /// provider uuid -> resource class -> amount
    public var allocations: [String: [String: Int64]]
    public var created: Micros
    public var updated: Micros

    enum CodingKeys: String, CodingKey {
        case uuid, project, user, generation, allocations, created, updated
        case consumerType = "consumer_type"
    }
}

/// A custom resource class or custom trait (standard ones are built in).
public struct NamedRecord: Codable, Equatable, Sendable {
    public var name: String
    public var created: Micros
    public var updated: Micros?
}

/// Usage totals of one (project, user, consumer type): what GET /usages sums.
public struct UsageRecord: Codable, Equatable, Sendable {
    public var resources: [String: Int64]
    public var consumers: Int64
}

/// Placement's database limits.
public enum Limits {
    /// The largest integer an inventory field may hold (a signed 32-bit column in Placement).
    public static let maxInt: Int64 = 2_147_483_647
    /// The largest allocation_ratio (a single precision float column).
    public static let maxFloat: Double = 3.40282e+38
}

extension StandardResourceClasses {
    /// Resource class names in Placement's id order: standard classes by
    /// their place in os-resource-classes, custom ones (ids from 10000) after.
    /// Placement lists classes in this order in its messages.
    public static func sortedByID(_ names: [String]) -> [String] {
        if names.count < 2 { return names }
        let index = idOrder
        return names.sorted { a, b in
            switch (index[a], index[b]) {
            case let (x?, y?): x < y
            case (_?, nil): true
            case (nil, _?): false
            default: a < b
            }
        }
    }

    /// Each standard class's place, built once: every PUT sorts its classes
    /// by it, and building it per call (a dictionary of every standard class)
    /// was 18% of deciding an allocation in the writer's profile.
    private static let idOrder = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1, $0) })
}
