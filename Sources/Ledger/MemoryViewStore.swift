/// The projection held in memory: what `apply` folds into in the
/// micro-benchmarks, and the form the tests read `InternedFold`'s views in.
/// Providers, consumers and usages are kept decoded (`Views` reads and
/// writes them without the byte form, which was a third of a fold's time);
/// the other tables, and these through the byte-level `ViewStore` calls,
/// hold the stored bytes, so either way of asking sees one state. A scan
/// (which `apply` needs only for class renames and re-parenting) filters and
/// sorts, in LMDB's key order.
public final class MemoryViewStore: ViewStore {
    private var tables: [[String: [UInt8]]]
    var providers: [String: ProviderRecord] = [:]
    var consumers: [String: ConsumerRecord] = [:]
    var usages: [String: UsageRecord] = [:]

    public init() { tables = Array(repeating: [:], count: Table.allCases.count) }

    public func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        switch table {
        case .providers: providers[key]?.storedBytes
        case .consumers: consumers[key]?.storedBytes
        case .usages: usages[key]?.storedBytes
        default: tables[table.ordinal][key]
        }
    }

    public func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        switch table {
        case .providers: providers[key] = try ProviderRecord(stored: value)
        case .consumers: consumers[key] = try ConsumerRecord(stored: value)
        case .usages: usages[key] = try UsageRecord(stored: value)
        default: tables[table.ordinal][key] = value
        }
    }

    public func delete(_ table: Table, _ key: String) throws {
        switch table {
        case .providers: providers[key] = nil
        case .consumers: consumers[key] = nil
        case .usages: usages[key] = nil
        default: tables[table.ordinal][key] = nil
        }
    }

    public func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        let all = records(table)
        let hits = prefix.isEmpty ? Array(all) : all.filter { $0.key.hasPrefix(prefix) }
        return hits.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// Every record of one table in its stored form, unordered.
    public func records(_ table: Table) -> [String: [UInt8]] {
        switch table {
        case .providers: providers.mapValues(\.storedBytes)
        case .consumers: consumers.mapValues(\.storedBytes)
        case .usages: usages.mapValues(\.storedBytes)
        default: tables[table.ordinal]
        }
    }
}

extension Table {
    /// Position in `allCases`, for array-indexed stores.
    public var ordinal: Int {
        switch self {
        case .providers: 0
        case .providerNames: 1
        case .providerChildren: 2
        case .providerConsumers: 3
        case .consumers: 4
        case .resourceClasses: 5
        case .traits: 6
        case .usages: 7
        case .aggregates: 8
        case .traitProviders: 9
        case .classProviders: 10
        }
    }
}
