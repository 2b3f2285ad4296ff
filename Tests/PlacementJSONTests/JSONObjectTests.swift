import Testing
@testable import PlacementJSON

/// `JSONObject` searches its keys in order while it is small and keeps a
/// key index once it grows: both must behave as one ordered map.
@Suite struct JSONObjectTests {
    /// A plain model: pairs in order, a repeated key keeping its first place.
    struct Model {
        var pairs: [(String, Int64)] = []
        mutating func set(_ k: String, _ v: Int64?) {
            if let i = pairs.firstIndex(where: { $0.0 == k }) {
                if let v { pairs[i].1 = v } else { pairs.remove(at: i) }
            } else if let v {
                pairs.append((k, v))
            }
        }
    }

    @Test func randomSetsAndRemovalsMatchAnOrderedMap() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var object = JSONObject()
            var model = Model()
            // Up to 60 distinct keys, so objects cross the indexed size both ways.
            let keySpace = [4, 16, 17, 60][round % 4]
            for _ in 0..<300 {
                let k = "k\(Int.random(in: 0..<keySpace, using: &rng))"
                let v: Int64? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : Int64.random(in: 0..<1000, using: &rng)
                object[k] = v.map { .int($0) }
                model.set(k, v)
                #expect(object.keys == model.pairs.map(\.0))
            }
            for (k, v) in model.pairs { #expect(object[k] == .int(v)) }
            #expect(object["absent"] == nil)
            #expect(object.pairs.map(\.key) == model.pairs.map(\.0))
            #expect(object.pairs.map(\.value) == model.pairs.map { .int($0.1) })
            #expect(object.count == model.pairs.count)
        }
    }

    @Test func equalityIsKeysInOrderAndValues() {
        let many = (0..<20).map { ("k\($0)", JSON.int(Int64($0))) }
        #expect(JSONObject(many) == JSONObject(many))
        #expect(JSONObject(many) != JSONObject(many.reversed()))
        var changed = JSONObject(many)
        changed["k3"] = .int(-1)
        #expect(changed != JSONObject(many))
        // Built with and without the index on the way: still equal.
        var shrunk = JSONObject(many + [("extra", .null)])
        shrunk["extra"] = nil
        #expect(shrunk == JSONObject(many))
        #expect(JSONObject([("a", 1), ("a", 2)]) == JSONObject([("a", 2)]))
    }
}
