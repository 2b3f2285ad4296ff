/// The projection held in memory: what `verify` folds the log into to
/// compare with the stored views, and what `replay` folds into before it
/// writes a new data dir. Gets, puts and deletes are hash lookups; a scan
/// (which `apply` needs only for class renames and re-parenting) filters and
/// sorts, in LMDB's key order.
public final class MemoryViewStore: ViewStore {
    private var tables: [[String: [UInt8]]]

    public init() { tables = Array(repeating: [:], count: Table.allCases.count) }

    public func get(_ table: Table, _ key: String) throws -> [UInt8]? { tables[table.ordinal][key] }
    public func put(_ table: Table, _ key: String, _ value: [UInt8]) throws { tables[table.ordinal][key] = value }
    public func delete(_ table: Table, _ key: String) throws { tables[table.ordinal][key] = nil }

    public func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        let hits = prefix.isEmpty ? Array(tables[table.ordinal]) : tables[table.ordinal].filter { $0.key.hasPrefix(prefix) }
        return hits.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// Every record of one table, unordered.
    public func records(_ table: Table) -> [String: [UInt8]] { tables[table.ordinal] }
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
