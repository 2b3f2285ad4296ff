import Testing
@testable import PlacementAPI

/// The byte-level path split and the route index answer as a split on
/// characters and a search of the whole table in order did.
@Suite struct RoutingTests {
    static let alphabet = ["/", "/", "/", "a", "b", "%2F", "%41", "%", "%zz", "+", "é", "-", "_"]

    @Test func segmentsAreTheCharacterSplitDecoded() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let path = (0..<Int.random(in: 0...12, using: &rng)).map { _ in Self.alphabet.randomElement(using: &rng)! }.joined()
            let expected = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0.percentDecoded() }
            #expect(Route.segments(of: path) == Array(expected), "\(path)")
        }
    }

    @Test func tableFindsTheFirstRouteInOrder() {
        // Every route's pattern with its parameters filled, some segments
        // swapped for another route's literals, and a few strays.
        let literals = Set(PlacementAPI.routes.flatMap { $0.pattern.compactMap { if case .literal(let l) = $0 { l } else { nil } } })
        var rng = SystemRandomNumberGenerator()
        var paths: [[String]] = [[], [""], ["nothing"], ["resource_providers", ""]]
        for route in PlacementAPI.routes {
            let filled = route.pattern.map { segment -> String in
                if case .literal(let l) = segment { l } else { "x" }
            }
            paths.append(filled)
            for _ in 0..<20 {
                var p = filled
                p[Int.random(in: 0..<p.count, using: &rng)] = Bool.random(using: &rng) ? literals.randomElement(using: &rng)! : ""
                paths.append(p)
            }
        }
        for segments in paths {
            let linear = PlacementAPI.routes.lazy.compactMap { r in r.match(segments).map { (r, $0) } }.first
            let indexed = PlacementAPI.routeTable.match(segments)
            #expect(linear?.0 === indexed?.0, "\(segments)")
            #expect(linear?.1 == indexed?.1, "\(segments)")
        }
    }
}
