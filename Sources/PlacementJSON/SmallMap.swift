/// A map that keeps its keys in the order they came: pairs in two lists
/// searched in order while short, plus a hash index once past `indexedFrom`
/// entries. Most maps here are small (a request body's object, the records
/// one event touches), where hashing every key costs more than the search;
/// a few are large (a POST of many consumers, a summary of thousands of
/// providers), where a list alone would be quadratic.
///
/// `@inlinable` so that callers in other modules get it specialized for
/// their key and value types rather than through generic metadata.
public struct SmallMap<Key: Hashable, Value> {
    /// The keys in the order they came.
    @inlinable public var keys: [Key] { orderedKeys }
    @usableFromInline var orderedKeys: [Key] = []
    @usableFromInline var values: [Value] = []
    @usableFromInline var positions: [Key: Int]?
    @inlinable static var indexedFrom: Int { 16 }

    @inlinable public init() {}

    @inlinable func position(of key: Key) -> Int? {
        if let positions { return positions[key] }
        return orderedKeys.firstIndex(of: key)
    }

    @inlinable mutating func reindex() {
        positions = orderedKeys.count > Self.indexedFrom ? Dictionary(uniqueKeysWithValues: orderedKeys.enumerated().map { ($1, $0) }) : nil
    }

    /// The value for `key`; setting nil removes it (later keys move up).
    @inlinable public subscript(key: Key) -> Value? {
        get { position(of: key).map { values[$0] } }
        set {
            if let newValue {
                if let i = position(of: key) {
                    values[i] = newValue
                } else {
                    orderedKeys.append(key)
                    values.append(newValue)
                    if positions != nil { positions![key] = orderedKeys.count - 1 } else if orderedKeys.count > Self.indexedFrom { reindex() }
                }
            } else if let i = position(of: key) {
                orderedKeys.remove(at: i)
                values.remove(at: i)
                if positions != nil { reindex() }
            }
        }
    }

    /// Adds `key` with `value` unless it is there; whether it was added.
    @inlinable public mutating func add(_ key: Key, _ value: Value) -> Bool {
        if position(of: key) != nil { return false }
        self[key] = value
        return true
    }

    @inlinable public var count: Int { orderedKeys.count }
    /// Pairs in the order their keys came.
    @inlinable public var pairs: [(key: Key, value: Value)] { zip(orderedKeys, values).map { ($0, $1) } }
    /// The values in the order their keys came.
    @inlinable public var orderedValues: [Value] { values }
}

extension SmallMap: Sendable where Key: Sendable, Value: Sendable {}
