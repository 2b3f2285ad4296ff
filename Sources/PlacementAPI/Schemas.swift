import PlacementJSON

/// The request-body and query-string schemas of schemas/requests/, parsed once.
/// Public for the micro-benchmarks (tools/benchmarks).
public final class Schemas: Sendable {
    private let byName: [String: Schema]

    public init() {
        var out: [String: Schema] = [:]
        for (path, text) in EmbeddedSchemas.files where path.hasPrefix("requests/") {
            let name = String(path.dropFirst("requests/".count).dropLast(".json".count))
            // The files are part of the build; a broken one is a build defect.
            out[name] = try! Schema(text: text)
        }
        byName = out
    }

    public subscript(_ name: String) -> Schema {
        guard let s = byName[name] else { fatalError("no schema named \(name) in schemas/requests") }
        return s
    }
}
