import PlacementJSON

extension PlacementAPI {
    /// GET /: the version document (no token needed).
    static let root: ReadHandler = { api, req in
        let doc: JSON = ["versions": [[
            "id": "v1.0", "max_version": .string(Microversion.max.description),
            "min_version": .string(Microversion.min.description), "status": "CURRENT",
            "links": [["rel": "self", "href": ""]],
        ]]]
        return .json(doc, sequence: try api.store.lastSequence(), lastModified: nowMicros())
    }
}
