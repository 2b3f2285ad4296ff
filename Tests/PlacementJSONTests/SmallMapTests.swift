import Testing
@testable import PlacementJSON

/// `SmallMap` searches a list while small and keeps a hash index past
/// `indexedFrom` entries: both must answer as a dictionary that remembers
/// the order keys came in.
@Suite struct SmallMapTests {
    @Test func answersAsAnOrderedDictionary() {
        var rng = SystemRandomNumberGenerator()
        for keySpace in [5, 16, 17, 200] {
            var map = SmallMap<Int, Int>()
            var model: [Int: Int] = [:]
            var order: [Int] = []
            for step in 0..<600 {
                let k = Int.random(in: 0..<keySpace, using: &rng)
                if step % 7 == 6 {
                    map[k] = nil
                    if model.removeValue(forKey: k) != nil { order.removeAll { $0 == k } }
                } else if step % 3 == 0 {
                    let added = map.add(k, step)
                    #expect(added == (model[k] == nil))
                    if model[k] == nil { model[k] = step; order.append(k) }
                } else {
                    if model[k] == nil { order.append(k) }
                    map[k] = step
                    model[k] = step
                }
                #expect(map[k] == model[k])
            }
            #expect(map.keys == order)
            for k in 0..<keySpace + 3 { #expect(map[k] == model[k]) }
        }
    }
}
