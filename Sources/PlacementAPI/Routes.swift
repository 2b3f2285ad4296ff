/// A handler of one method on one route that may wait (a write waits for its commit).
typealias Handler = @Sendable (PlacementAPI, PlacementRequest) async throws -> PlacementResponse
/// A handler that answers from one snapshot and never waits: every GET.
/// These can run where the request arrived (InlineReads.swift).
typealias ReadHandler = @Sendable (PlacementAPI, PlacementRequest) throws -> PlacementResponse

enum Endpoint: Sendable {
    case sync(ReadHandler)
    case async(Handler)
}

/// One entry of the route table: a path pattern (`{name}` segments match
/// any one segment) and its handlers in Placement's declaration order, which
/// is the order of the `Allow` header on a 405.
final class Route: Sendable {
    /// One segment of the pattern, told apart once when the table is built
    /// (matching ran `hasPrefix("{")` on every segment of every route tried).
    enum Segment: Sendable {
        case literal(String)
        case parameter(String)
    }

    /// The pattern as written, e.g. `/resource_providers/{uuid}`.
    let path: String
    let pattern: [Segment]
    let methods: [(method: String, endpoint: Endpoint)]

    init(_ path: String, _ methods: [(String, Endpoint)]) {
        self.path = path
        pattern = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            part.hasPrefix("{") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        self.methods = methods.map { (method: $0.0, endpoint: $0.1) }
    }

    func match(_ segments: [String]) -> [String: String]? {
        guard segments.count == pattern.count else { return nil }
        // Literals first: most routes are ruled out before a parameter is kept.
        for (p, s) in zip(pattern, segments) {
            if case .literal(let text) = p, text != s { return nil }
        }
        var params: [String: String] = [:]
        for (p, s) in zip(pattern, segments) {
            guard case .parameter(let name) = p else { continue }
            if s.isEmpty { return nil }
            params[name] = s
        }
        return params
    }

    /// The percent-decoded segments of a request path after its leading `/`,
    /// empty ones kept (a trailing `/` must not match), split on the bytes.
    static func segments(of path: String) -> [String] {
        var out: [String] = []
        let utf8 = path.utf8
        var start: String.Index? = nil  // past the first "/"
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i] == UInt8(ascii: "/") {
                if let s = start { out.append(path[s..<i].percentDecoded()) }
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        if let s = start { out.append(path[s...].percentDecoded()) }
        return out
    }

    /// The routes a path's segments may match, in table order: those whose
    /// first segment is that literal, or a parameter. Matching tried every
    /// route of the table on every request.
    struct Table: Sendable {
        private let byFirst: [String: [Route]]
        private let anyFirst: [Route]

        init(_ routes: [Route]) {
            var byFirst: [String: [Route]] = [:]
            for case .literal(let first)? in routes.map(\.pattern.first) { byFirst[first] = [] }
            for route in routes {
                switch route.pattern.first {
                case .literal(let first)?: byFirst[first]!.append(route)
                case .parameter?: for key in byFirst.keys { byFirst[key]!.append(route) }
                case nil: break
                }
            }
            self.byFirst = byFirst
            anyFirst = routes.filter { if case .parameter? = $0.pattern.first { true } else { false } }
        }

        /// The first route that matches, and its parameters.
        func match(_ segments: [String]) -> (Route, [String: String])? {
            for route in segments.first.flatMap({ byFirst[$0] }) ?? anyFirst {
                if let params = route.match(segments) { return (route, params) }
            }
            return nil
        }
    }
}

/// Limits a handler to a range of microversions; outside it Placement
/// answers 404 (or the given status).
func versioned(_ min: Int, max: Int = Microversion.max.minor, status: Int = 404, _ handler: @escaping Handler) -> Endpoint {
    .async { api, req in
        try check(req, min, max, status)
        return try await handler(api, req)
    }
}

func versioned(_ min: Int, max: Int = Microversion.max.minor, status: Int = 404, _ handler: @escaping ReadHandler) -> Endpoint {
    .sync { api, req in
        try check(req, min, max, status)
        return try handler(api, req)
    }
}

private func check(_ req: PlacementRequest, _ min: Int, _ max: Int, _ status: Int) throws {
    guard req.version >= Microversion(1, min) && req.version <= Microversion(1, max) else {
        throw PlacementError(status, status == 405 ? "The method specified is not allowed for this resource." : "")
    }
}

extension PlacementAPI {
    /// Placement 16.0.0's routes (placement/handler.py), in its order.
    static let routeTable = Route.Table(routes)

    static let routes: [Route] = [
        Route("/resource_classes", [("GET", versioned(2, listResourceClasses)), ("POST", versioned(2, createResourceClass))]),
        Route("/resource_classes/{name}", [
            ("GET", versioned(2, showResourceClass)), ("PUT", versioned(2, updateResourceClass)),
            ("DELETE", versioned(2, deleteResourceClass)),
        ]),
        Route("/resource_providers", [("GET", .sync(listProviders)), ("POST", .async(createProvider))]),
        Route("/resource_providers/{uuid}", [("GET", .sync(showProvider)), ("DELETE", .async(deleteProvider)), ("PUT", .async(updateProvider))]),
        Route("/resource_providers/{uuid}/inventories", [
            ("GET", .sync(listInventories)), ("POST", .async(createInventory)), ("PUT", .async(setInventories)),
            ("DELETE", versioned(5, status: 405, deleteInventories)),
        ]),
        Route("/resource_providers/{uuid}/inventories/{resource_class}", [
            ("GET", .sync(showInventory)), ("PUT", .async(updateInventory)), ("DELETE", .async(deleteInventory)),
        ]),
        Route("/resource_providers/{uuid}/usages", [("GET", .sync(providerUsages))]),
        Route("/resource_providers/{uuid}/aggregates", [("GET", versioned(1, listAggregates)), ("PUT", versioned(1, setAggregates))]),
        Route("/resource_providers/{uuid}/allocations", [("GET", .sync(providerAllocations))]),
        Route("/allocations", [("POST", versioned(13, postAllocations))]),
        Route("/allocations/{consumer_uuid}", [
            ("GET", .sync(consumerAllocations)), ("PUT", .async(putAllocations)), ("DELETE", .async(deleteAllocations)),
        ]),
        Route("/allocation_candidates", [("GET", versioned(10, listAllocationCandidates))]),
        Route("/traits", [("GET", versioned(6, listTraits))]),
        Route("/traits/{name}", [("GET", versioned(6, showTrait)), ("PUT", versioned(6, putTrait)), ("DELETE", versioned(6, deleteTrait))]),
        Route("/resource_providers/{uuid}/traits", [
            ("GET", versioned(6, listProviderTraits)), ("PUT", versioned(6, setProviderTraits)),
            ("DELETE", versioned(6, deleteProviderTraits)),
        ]),
        Route("/usages", [("GET", versioned(9, totalUsages))]),
        Route("/reshaper", [("POST", versioned(30, reshape))]),
        // The ledger's own audit API (not Placement's). Its answers may fold
        // much of the log, so they run as tasks, never on an event loop.
        Route("/ledger/events", [("GET", .async(ledgerEvents))]),
        Route("/ledger/consumers", [("GET", .async(staleConsumers))]),
        Route("/ledger/consumers/{uuid}/history", [("GET", .async(consumerHistory))]),
        Route("/ledger/resource_providers/{uuid}/history", [("GET", .async(providerHistory))]),
        Route("/ledger/resource_providers/{uuid}/usage.svg", [("GET", .async(providerUsagePlot))]),
    ]
}
