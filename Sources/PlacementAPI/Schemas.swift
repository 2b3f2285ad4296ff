import PlacementJSON

/// The request-body and query-string schemas of schemas/requests/, parsed once.
final class Schemas: Sendable {
    private let byName: [String: Schema]

    init() {
        var out: [String: Schema] = [:]
        for (path, text) in EmbeddedSchemas.files where path.hasPrefix("requests/") {
            let name = String(path.dropFirst("requests/".count).dropLast(".json".count))
            // The files are part of the build; a broken one is a build defect.
            out[name] = try! Schema(text: text)
        }
        byName = out
    }

    subscript(_ name: String) -> Schema {
        guard let s = byName[name] else { fatalError("no schema named \(name) in schemas/requests") }
        return s
    }
}
