/// A `ViewStore` that reads through to a base store and keeps its own writes
/// in memory. `decide` uses it to try out the intermediate steps of a
/// compound command (the reshaper) without writing anything.
final class OverlayStore: ViewStore {
    private let base: any ViewStore
    private var changes: [Table: [String: [UInt8]?]] = [:]

    init(_ base: any ViewStore) { self.base = base }

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        if let change = changes[table]?[key] { return change }
        return try base.get(table, key)
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        changes[table, default: [:]][key] = .some(value)
    }

    func delete(_ table: Table, _ key: String) throws {
        changes[table, default: [:]][key] = .some(nil)
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        overlaidScan(try base.scan(table, prefix: prefix), [changes[table] ?? [:]], prefix: prefix)
    }
}

/// What a scan of `prefix` finds when `layers` of changes (oldest first; a
/// nil value deletes its key) lie over `base`, the committed records: in the
/// order LMDB keeps keys, by their UTF-8 bytes. Every store that keeps
/// changes over another (`OverlayStore`, the writer's staged views) scans
/// through this, so they cannot disagree on that order.
public func overlaidScan(_ base: [(key: String, value: [UInt8])], _ layers: [[String: [UInt8]?]],
                         prefix: String) -> [(key: String, value: [UInt8])] {
    var merged: [String: [UInt8]] = [:]
    for (k, v) in base { merged[k] = v }
    for layer in layers {
        for (k, change) in layer where k.hasPrefix(prefix) { merged[k] = change }
    }
    return merged.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { ($0.key, $0.value) }
}
