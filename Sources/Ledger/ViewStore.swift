import Foundation
import PlacementJSON

/// The tables the projection keeps. The same names serve the LMDB store and
/// the in-memory fold, so `verify` can compare them record by record.
public enum Table: String, CaseIterable, Sendable {
    case providers          // uuid -> ProviderRecord
    case providerNames      // name -> uuid
    case providerChildren   // parent \0 child -> ""
    case providerConsumers  // provider \0 consumer -> ""
    case consumers          // uuid -> ConsumerRecord
    case resourceClasses    // name -> NamedRecord (custom classes only)
    case traits             // name -> NamedRecord (custom traits only)
    case usages             // project \0 user \0 consumer type -> UsageRecord
    case aggregates         // aggregate \0 provider -> "" (member_of)
    case traitProviders     // trait \0 provider -> "" (trait in use)
    case classProviders     // resource class \0 provider -> "" (class in use in inventory)
}

/// Key-value access to the projection. The LMDB write transaction and the
/// in-memory fold both conform; the rules only ever see this seam.
public protocol ViewStore {
    func get(_ table: Table, _ key: String) throws -> [UInt8]?
    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws
    func delete(_ table: Table, _ key: String) throws
    /// Keys and values under `prefix`, in key order.
    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])]
}

/// Key separator for compound keys; never valid inside a name or uuid.
public let keySep = "\u{0}"

/// Typed access over any `ViewStore`: one encoding for every table, so two
/// stores holding the same state hold the same bytes.
public struct Views {
    public let store: any ViewStore
    /// The in-memory fold's store, which holds providers, consumers and
    /// usages decoded (cast once here, not on every read).
    private let memory: MemoryViewStore?
    public init(_ store: any ViewStore) {
        self.store = store
        memory = store as? MemoryViewStore
    }

    func decode<T: StoredRecord>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try T(stored: bytes)
    }
    func encode<T: StoredRecord>(_ value: T) -> [UInt8] {
        value.storedBytes
    }

    public func provider(_ uuid: String) throws -> ProviderRecord? {
        if let memory { return memory.providers[uuid] }
        return try store.get(.providers, uuid).map { try decode(ProviderRecord.self, $0) }
    }
    /// A provider's generation, read without decoding the rest of the record.
    public func providerGeneration(_ uuid: String) throws -> Int64? {
        if let memory { return memory.providers[uuid]?.generation }
        guard let bytes = try store.get(.providers, uuid) else { return nil }
        if bytes.first == BinaryRecord.tag {
            var r = try RecordReader(bytes)
            _ = try r.string()
            _ = try r.string()
            return try r.int()
        }
        return try decode(ProviderRecord.self, bytes).generation
    }
    public func putProvider(_ p: ProviderRecord) throws {
        if let memory { memory.providers[p.uuid] = p; return }
        try store.put(.providers, p.uuid, encode(p))
    }
    public func providerUUID(named name: String) throws -> String? {
        try store.get(.providerNames, KeyPart.of(name)).map { String(decoding: $0, as: UTF8.self) }
    }
    public func allProviders() throws -> [ProviderRecord] {
        try store.scan(.providers, prefix: "").map { try decode(ProviderRecord.self, $0.value) }
    }
    public func children(of uuid: String) throws -> [String] {
        try store.scan(.providerChildren, prefix: uuid + keySep).map { String($0.key.dropFirst(uuid.count + 1)) }
    }
    public func consumer(_ uuid: String) throws -> ConsumerRecord? {
        if let memory { return memory.consumers[uuid] }
        return try store.get(.consumers, uuid).map { try decode(ConsumerRecord.self, $0) }
    }
    func putConsumer(_ c: ConsumerRecord) throws {
        if let memory { memory.consumers[c.uuid] = c; return }
        try store.put(.consumers, c.uuid, encode(c))
    }
    /// The usage record under a full usages key.
    func usage(_ key: String) throws -> UsageRecord? {
        if let memory { return memory.usages[key] }
        return try store.get(.usages, key).map { try decode(UsageRecord.self, $0) }
    }
    func putUsage(_ key: String, _ u: UsageRecord) throws {
        if let memory { memory.usages[key] = u; return }
        try store.put(.usages, key, encode(u))
    }
    public func allConsumers() throws -> [ConsumerRecord] {
        try store.scan(.consumers, prefix: "").map { try decode(ConsumerRecord.self, $0.value) }
    }
    public func consumers(of provider: String) throws -> [String] {
        try store.scan(.providerConsumers, prefix: provider + keySep).map { String($0.key.dropFirst(provider.count + 1)) }
    }
    public func customResourceClass(_ name: String) throws -> NamedRecord? {
        try store.get(.resourceClasses, name).map { try decode(NamedRecord.self, $0) }
    }
    public func customResourceClasses() throws -> [NamedRecord] {
        try store.scan(.resourceClasses, prefix: "").map { try decode(NamedRecord.self, $0.value) }
    }
    public func customTrait(_ name: String) throws -> NamedRecord? {
        try store.get(.traits, name).map { try decode(NamedRecord.self, $0) }
    }
    public func customTraits() throws -> [NamedRecord] {
        try store.scan(.traits, prefix: "").map { try decode(NamedRecord.self, $0.value) }
    }
    /// Whether any provider carries the trait.
    public func traitInUse(_ name: String) throws -> Bool {
        !(try store.scan(.traitProviders, prefix: name + keySep).isEmpty)
    }
    /// Whether any provider has inventory of the class.
    public func resourceClassInUse(_ name: String) throws -> Bool {
        !(try store.scan(.classProviders, prefix: name + keySep).isEmpty)
    }
    /// Providers with inventory of the class.
    public func providers(withInventoryOf name: String) throws -> [String] {
        try store.scan(.classProviders, prefix: name + keySep).map { String($0.key.dropFirst(name.count + 1)) }
    }
    /// Providers that are members of the aggregate.
    public func members(ofAggregate agg: String) throws -> [String] {
        try store.scan(.aggregates, prefix: agg + keySep).map { String($0.key.dropFirst(agg.count + 1)) }
    }
    /// Usage records under a project (and user), keyed by the full compound key.
    public func usages(project: String, user: String?) throws -> [(consumerType: String, record: UsageRecord)] {
        let prefix = KeyPart.of(project) + keySep + (user.map { KeyPart.of($0) + keySep } ?? "")
        return try store.scan(.usages, prefix: prefix).map { kv in
            let parts = kv.key.split(separator: Character(keySep), omittingEmptySubsequences: false)
            return (String(parts.last ?? ""), try decode(UsageRecord.self, kv.value))
        }
    }

    /// Whether a resource class exists (standard or custom).
    public func resourceClassExists(_ name: String) throws -> Bool {
        try StandardResourceClasses.set.contains(name) || customResourceClass(name) != nil
    }
    /// Whether a trait exists (standard or custom).
    public func traitExists(_ name: String) throws -> Bool {
        try StandardTraits.set.contains(name) || customTrait(name) != nil
    }
}
