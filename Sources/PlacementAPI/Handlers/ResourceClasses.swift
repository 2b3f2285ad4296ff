import Ledger
import PlacementJSON

extension PlacementAPI {
    static func resourceClassJSON(_ name: String) -> JSON {
        .object(JSONObject([("name", .string(name)), ("links", [["rel": "self", "href": .string("/resource_classes/\(name)")]])]))
    }

    static let listResourceClasses: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_classes:list")
        return try api.read(req) { views, seq in
            let custom = try views.customResourceClasses()
            let names = StandardResourceClasses.all + custom.map(\.name)
            let lm = custom.map { $0.updated ?? $0.created }.max() ?? nowMicros()
            return .json(["resource_classes": .array(names.map(resourceClassJSON))], sequence: seq, lastModified: lm)
        }
    }

    static let showResourceClass: ReadHandler = { api, req in
        try req.checkAccept()
        try req.authorize("placement:resource_classes:show")
        let name = req.param("name")
        return try api.read(req) { views, seq in
            if StandardResourceClasses.set.contains(name) {
                return .json(resourceClassJSON(name), sequence: seq, lastModified: nowMicros())
            }
            guard let rc = try views.customResourceClass(name) else {
                throw PlacementError.notFound("No such resource class \(name).")
            }
            return .json(resourceClassJSON(name), sequence: seq, lastModified: rc.updated ?? rc.created)
        }
    }

    static let createResourceClass: Handler = { api, req in
        try req.requireJSON()
        try req.authorize("placement:resource_classes:create")
        let name = try req.json(api.schemas["resource-class-post"])["name"]!.stringValue!
        let seq = try await api.write(.createResourceClass(name: name), req)
        var r = PlacementResponse.empty(201, sequence: seq)
        r.headers = [("location", req.base + "/resource_classes/\(name)")]
        return r
    }

    /// 1.2 to 1.6: rename a custom class (body `{"name": …}`); from 1.7:
    /// create the class named in the path if it is missing (201, else 204).
    static let updateResourceClass: Handler = { api, req in
        let name = req.param("name")
        if req.version.atLeast(7) {
            try req.authorize("placement:resource_classes:update")
            if let violation = api.schemas["resource-class-post"].validate(["name": .string(name)]) {
                throw PlacementError.badRequest("JSON does not validate: \(violation)")
            }
            let (seq, created) = try await api.writeChanged(.ensureResourceClass(name: name), req)
            var r = PlacementResponse.empty(created ? 201 : 204, sequence: seq)
            r.headers = [("location", req.base + "/resource_classes/\(name)")]
            return r
        }
        try req.requireJSON()
        try req.authorize("placement:resource_classes:update")
        let newName = try req.json(api.schemas["resource-class-post"])["name"]!.stringValue!
        let seq = try await api.write(.renameResourceClass(from: name, to: newName), req)
        return PlacementResponse(status: 200, body: resourceClassJSON(newName), sequence: seq)
    }

    static let deleteResourceClass: Handler = { api, req in
        try req.authorize("placement:resource_classes:delete")
        let seq = try await api.write(.deleteResourceClass(name: req.param("name")), req)
        return .empty(204, sequence: seq)
    }
}
