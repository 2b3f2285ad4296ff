/// A JSON value that keeps what Placement's clients and schemas care about
/// and Foundation loses: key order, integers versus floats, integers beyond
/// 64 bits (kept as their digits, so a schema `maximum` can reject them).
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer literal that does not fit 64 bits.
    case bigInt(String)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    /// Any integral number as an Int64, held to Int64's range (a JSON
    /// integer may have any number of digits; Python compares it exactly,
    /// and beyond 64 bits every comparison Placement makes has one answer).
    public var saturatingInt: Int64? {
        switch self {
        case .int(let i): i
        case .bigInt(let s): s.hasPrefix("-") ? Int64.min : Int64.max
        case .double(let d) where !d.isNaN: d >= 9.2e18 ? Int64.max : d <= -9.2e18 ? Int64.min : Int64(d)
        default: nil
        }
    }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { a } else { nil } }
    public var isNull: Bool { self == .null }

    /// A number as a Double, for comparisons with schema bounds.
    public var numericValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bigInt(let s): Double(s)
        default: nil
        }
    }
}

/// A JSON object in document order. A repeated key keeps its first place
/// and its last value, as Python's `json` does. Most objects (request
/// bodies, answers) have a handful of keys, where `SmallMap`'s search in
/// order beats hashing each key into a dictionary (that hashing was a fifth
/// of the JSON work of a GET answer in perf).
public struct JSONObject: Equatable, Sendable {
    private var map = SmallMap<String, JSON>()

    public init() {}
    public init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var keys: [String] { map.keys }

    public subscript(key: String) -> JSON? {
        get { map[key] }
        set { map[key] = newValue }
    }

    public var count: Int { map.count }
    public var isEmpty: Bool { map.count == 0 }
    /// Pairs in document order.
    public var pairs: [(key: String, value: JSON)] { map.pairs }

    /// Same keys in the same order with equal values.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.map.keys == b.map.keys && a.map.orderedValues == b.map.orderedValues
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}
