import Foundation
import PlacementJSON
import Testing
@testable import PlacementAPI

/// schemas/openapi.yaml (tools/gen-openapi.py) and the embedded schemas must
/// say what the server does: the same routes, the same request schemas.
@Suite struct OpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func load(_ relative: String) throws -> JSON {
        try JSONParser.parse(Array(try Data(contentsOf: Self.root.appendingPathComponent(relative))))
    }

    @Test func embeddedSchemasAreTheFiles() throws {
        for (path, text) in EmbeddedSchemas.files {
            #expect(try JSONParser.parse(text) == load("schemas/" + path), "run tools/embed-schemas.py: \(path) changed")
        }
    }

    @Test func openAPIPathsAreTheRoutes() throws {
        let doc = try load("schemas/openapi.yaml")
        var described: Set<String> = []
        for (path, item) in doc["paths"]?.objectValue?.pairs ?? [] {
            for (method, _) in item.objectValue?.pairs ?? [] where method != "parameters" {
                described.insert(method.uppercased() + " " + path)
            }
        }
        var served: Set<String> = ["GET /"]
        for route in PlacementAPI.routes {
            for (method, _) in route.methods { served.insert(method + " " + route.path) }
        }
        #expect(described == served, "run tools/gen-openapi.py after changing routes")
    }

    @Test func openAPIRequestBodiesAreTheRequestSchemas() throws {
        let doc = try load("schemas/openapi.yaml")
        let bodies = doc["components"]?["schemas"]?.objectValue?.pairs ?? []
        #expect(bodies.count >= 10)
        for (name, schema) in bodies {
            guard case .object(var file) = try load("schemas/requests/\(name).json") else { Issue.record("\(name) is not an object"); continue }
            file["$schema"] = nil
            #expect(schema == .object(file), "run tools/gen-openapi.py: \(name) changed")
        }
    }
}
