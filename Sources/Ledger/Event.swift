import Foundation

/// Who made a change: the user and project of the request's token.
public struct Actor: Codable, Equatable, Sendable {
    public var user: String
    public var project: String?
    public init(user: String, project: String?) {
        self.user = user
        self.project = project
    }
}

/// What the writer knows of a request besides its command: none of it is
/// decided by the rules, all of it is recorded in the event.
public struct EventContext: Codable, Equatable, Sendable {
    public var requestID: String
    public var actor: Actor
    public var microversion: String
    public init(requestID: String, actor: Actor, microversion: String) {
        self.requestID = requestID
        self.actor = actor
        self.microversion = microversion
    }
    enum CodingKeys: String, CodingKey {
        case actor, microversion
        case requestID = "request_id"
    }
}

/// One immutable entry of the log.
public struct Event: Codable, Equatable, Sendable {
    /// Gap-free, starting at 1.
    public var seq: UInt64
    /// UTC microseconds since the epoch, stamped by the writer.
    public var time: Micros
    public var context: EventContext
    public var payload: EventPayload

    public init(seq: UInt64, time: Micros, context: EventContext, payload: EventPayload) {
        self.seq = seq
        self.time = time
        self.context = context
        self.payload = payload
    }

    /// The payload schema version every event is written with today.
    public static let payloadVersion = 1

    enum CodingKeys: String, CodingKey {
        case seq, time, type, version, payload
        case requestID = "request_id", actor, microversion
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(UInt64.self, forKey: .seq)
        time = try c.decode(Micros.self, forKey: .time)
        context = EventContext(
            requestID: try c.decode(String.self, forKey: .requestID),
            actor: try c.decode(Actor.self, forKey: .actor),
            microversion: try c.decode(String.self, forKey: .microversion))
        let type = try c.decode(String.self, forKey: .type)
        let version = try c.decode(Int.self, forKey: .version)
        guard version == Event.payloadVersion else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: "unknown payload version \(version)")
        }
        payload = try EventPayload.decode(type: type, from: c.superDecoder(forKey: .payload))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(time, forKey: .time)
        try c.encode(context.requestID, forKey: .requestID)
        try c.encode(context.actor, forKey: .actor)
        try c.encode(context.microversion, forKey: .microversion)
        try c.encode(payload.type, forKey: .type)
        try c.encode(Event.payloadVersion, forKey: .version)
        try payload.encode(to: c.superEncoder(forKey: .payload))
    }

    /// The stored form (sorted keys, so equal events are equal bytes), by
    /// `EventCodec`. The `Codable` conformance reads and writes the same JSON
    /// (earlier builds stored events through it).
    public func encoded() throws -> [UInt8] { EventCodec.encode(self) }
    /// Reads the stored form.
    public static func decoded(_ raw: UnsafeRawBufferPointer) throws -> Event { try EventCodec.decode(raw) }
    public static func decoded(_ bytes: [UInt8]) throws -> Event {
        try bytes.withUnsafeBytes { try EventCodec.decode($0) }
    }
    /// Through Foundation's JSON coders, as earlier builds stored events.
    public func encodedWithFoundation() throws -> [UInt8] { Array(try eventEncoder.encode(self)) }
    public static func decodedWithFoundation(_ bytes: [UInt8]) throws -> Event {
        try JSONDecoder().decode(Event.self, from: Data(bytes))
    }
}

/// Allocations of one consumer as an event records them: the complete new set.
public struct ConsumerAllocations: Codable, Equatable, Sendable {
    public var consumer: String
    public var project: String
    public var user: String
    public var consumerType: String?
    /// provider -> class -> amount; empty removes every allocation of the consumer.
    public var allocations: [String: [String: Int64]]
    public init(consumer: String, project: String, user: String, consumerType: String?, allocations: [String: [String: Int64]]) {
        self.consumer = consumer
        self.project = project
        self.user = user
        self.consumerType = consumerType
        self.allocations = allocations
    }
    enum CodingKeys: String, CodingKey {
        case consumer = "consumer_uuid", project = "project_id", user = "user_id"
        case consumerType = "consumer_type", allocations
    }
}

/// What changed. Events carry final values (the decided outcome), never the
/// request, so folding them needs no rule but arithmetic.
public enum EventPayload: Equatable, Sendable {
    case providerCreated(uuid: String, name: String, parent: String?)
    case providerUpdated(uuid: String, name: String, parent: String?)
    case providerDeleted(uuid: String)
    /// The complete inventory of a provider after the change.
    case inventoriesReplaced(provider: String, inventories: [String: InventoryRecord])
    case resourceClassCreated(name: String)
    case resourceClassRenamed(from: String, to: String)
    case resourceClassDeleted(name: String)
    case traitCreated(name: String)
    case traitDeleted(name: String)
    case providerTraitsReplaced(provider: String, traits: [String])
    /// `bumpsGeneration` is false before microversion 1.19.
    case providerAggregatesReplaced(provider: String, aggregates: [String], bumpsGeneration: Bool)
    /// PUT /allocations/{c} (one entry) and POST /allocations (several), atomically.
    case allocationsReplaced(consumers: [ConsumerAllocations])
    /// DELETE /allocations/{c}.
    case allocationsDeleted(consumer: String)
    /// POST /reshaper: new inventories of some providers and new allocations of some consumers.
    case reshaped(inventories: [String: [String: InventoryRecord]], consumers: [ConsumerAllocations])

    /// The event type, as stored and as its schema in schemas/events/ is named.
    public var type: String {
        switch self {
        case .providerCreated: "ResourceProviderCreated"
        case .providerUpdated: "ResourceProviderUpdated"
        case .providerDeleted: "ResourceProviderDeleted"
        case .inventoriesReplaced: "InventoriesReplaced"
        case .resourceClassCreated: "ResourceClassCreated"
        case .resourceClassRenamed: "ResourceClassRenamed"
        case .resourceClassDeleted: "ResourceClassDeleted"
        case .traitCreated: "TraitCreated"
        case .traitDeleted: "TraitDeleted"
        case .providerTraitsReplaced: "ResourceProviderTraitsReplaced"
        case .providerAggregatesReplaced: "ResourceProviderAggregatesReplaced"
        case .allocationsReplaced: "AllocationsReplaced"
        case .allocationsDeleted: "AllocationsDeleted"
        case .reshaped: "Reshaped"
        }
    }

    /// Every event type, for schema coverage checks.
    public static let allTypes = [
        "ResourceProviderCreated", "ResourceProviderUpdated", "ResourceProviderDeleted", "InventoriesReplaced",
        "ResourceClassCreated", "ResourceClassRenamed", "ResourceClassDeleted", "TraitCreated", "TraitDeleted",
        "ResourceProviderTraitsReplaced", "ResourceProviderAggregatesReplaced", "AllocationsReplaced",
        "AllocationsDeleted", "Reshaped",
    ]

    /// Providers this event touches (for the history indexes).
    public var providers: [String] {
        switch self {
        case .providerCreated(let u, _, let p), .providerUpdated(let u, _, let p): [u] + (p.map { [$0] } ?? [])
        case .providerDeleted(let u): [u]
        case .inventoriesReplaced(let p, _), .providerTraitsReplaced(let p, _), .providerAggregatesReplaced(let p, _, _): [p]
        case .allocationsReplaced(let cs): cs.flatMap { $0.allocations.keys }
        case .reshaped(let inv, let cs): Array(inv.keys) + cs.flatMap { $0.allocations.keys }
        default: []
        }
    }

    /// Consumers this event touches.
    public var consumers: [String] {
        switch self {
        case .allocationsReplaced(let cs), .reshaped(_, let cs): cs.map(\.consumer)
        case .allocationsDeleted(let c): [c]
        default: []
        }
    }

    private struct ProviderFields: Codable {
        var uuid: String
        var name: String?
        var parent_provider_uuid: String?
    }
    private struct InventoriesFields: Codable {
        var resource_provider: String
        var inventories: [String: InventoryRecord]
    }
    private struct NameFields: Codable { var name: String }
    private struct RenameFields: Codable { var from: String; var to: String }
    private struct TraitsFields: Codable { var resource_provider: String; var traits: [String] }
    private struct AggregatesFields: Codable {
        var resource_provider: String
        var aggregates: [String]
        var bumps_generation: Bool
    }
    private struct AllocationsFields: Codable { var consumers: [ConsumerAllocations] }
    private struct ConsumerFields: Codable { var consumer_uuid: String }
    private struct ReshapeFields: Codable {
        var inventories: [String: [String: InventoryRecord]]
        var consumers: [ConsumerAllocations]
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .providerCreated(let u, let n, let p), .providerUpdated(let u, let n, let p):
            try c.encode(ProviderFields(uuid: u, name: n, parent_provider_uuid: p))
        case .providerDeleted(let u): try c.encode(ProviderFields(uuid: u))
        case .inventoriesReplaced(let p, let inv): try c.encode(InventoriesFields(resource_provider: p, inventories: inv))
        case .resourceClassCreated(let n), .resourceClassDeleted(let n), .traitCreated(let n), .traitDeleted(let n):
            try c.encode(NameFields(name: n))
        case .resourceClassRenamed(let f, let t): try c.encode(RenameFields(from: f, to: t))
        case .providerTraitsReplaced(let p, let t): try c.encode(TraitsFields(resource_provider: p, traits: t))
        case .providerAggregatesReplaced(let p, let a, let b):
            try c.encode(AggregatesFields(resource_provider: p, aggregates: a, bumps_generation: b))
        case .allocationsReplaced(let cs): try c.encode(AllocationsFields(consumers: cs))
        case .allocationsDeleted(let cu): try c.encode(ConsumerFields(consumer_uuid: cu))
        case .reshaped(let inv, let cs): try c.encode(ReshapeFields(inventories: inv, consumers: cs))
        }
    }

    static func decode(type: String, from decoder: any Decoder) throws -> EventPayload {
        let c = try decoder.singleValueContainer()
        switch type {
        case "ResourceProviderCreated":
            let f = try c.decode(ProviderFields.self)
            return .providerCreated(uuid: f.uuid, name: f.name ?? "", parent: f.parent_provider_uuid)
        case "ResourceProviderUpdated":
            let f = try c.decode(ProviderFields.self)
            return .providerUpdated(uuid: f.uuid, name: f.name ?? "", parent: f.parent_provider_uuid)
        case "ResourceProviderDeleted": return .providerDeleted(uuid: try c.decode(ProviderFields.self).uuid)
        case "InventoriesReplaced":
            let f = try c.decode(InventoriesFields.self)
            return .inventoriesReplaced(provider: f.resource_provider, inventories: f.inventories)
        case "ResourceClassCreated": return .resourceClassCreated(name: try c.decode(NameFields.self).name)
        case "ResourceClassRenamed":
            let f = try c.decode(RenameFields.self)
            return .resourceClassRenamed(from: f.from, to: f.to)
        case "ResourceClassDeleted": return .resourceClassDeleted(name: try c.decode(NameFields.self).name)
        case "TraitCreated": return .traitCreated(name: try c.decode(NameFields.self).name)
        case "TraitDeleted": return .traitDeleted(name: try c.decode(NameFields.self).name)
        case "ResourceProviderTraitsReplaced":
            let f = try c.decode(TraitsFields.self)
            return .providerTraitsReplaced(provider: f.resource_provider, traits: f.traits)
        case "ResourceProviderAggregatesReplaced":
            let f = try c.decode(AggregatesFields.self)
            return .providerAggregatesReplaced(provider: f.resource_provider, aggregates: f.aggregates, bumpsGeneration: f.bumps_generation)
        case "AllocationsReplaced": return .allocationsReplaced(consumers: try c.decode(AllocationsFields.self).consumers)
        case "AllocationsDeleted": return .allocationsDeleted(consumer: try c.decode(ConsumerFields.self).consumer_uuid)
        case "Reshaped":
            let f = try c.decode(ReshapeFields.self)
            return .reshaped(inventories: f.inventories, consumers: f.consumers)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown event type \(type)"))
        }
    }
}

let eventEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
}()
