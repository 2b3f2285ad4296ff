import Foundation
import Testing
import Ledger
import LedgerStore
import PlacementJSON

func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
}

/// A `ViewStore` in memory, for testing the pure rules without LMDB.
final class MemoryStore: ViewStore {
    var tables: [Table: [String: [UInt8]]] = [:]
    func get(_ table: Table, _ key: String) throws -> [UInt8]? { tables[table]?[key] }
    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws { tables[table, default: [:]][key] = value }
    func delete(_ table: Table, _ key: String) throws { tables[table]?[key] = nil }
    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        (tables[table] ?? [:]).filter { $0.key.hasPrefix(prefix) }.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { ($0.key, $0.value) }
    }
}

/// Decides and applies commands in memory, as the writer does, with a fake clock.
final class Ledgerish {
    let store = MemoryStore()
    var views: Views { Views(store) }
    var seq: UInt64 = 0
    var events: [Event] = []
    let ctx = EventContext(requestID: "req-test", actor: Actor(user: "admin", project: "admin"), microversion: "1.39")

    @discardableResult
    func run(_ c: Command) throws -> Result<[EventPayload], Rejection> {
        let r = try decide(c, views: views)
        if case .success(let payloads) = r {
            for p in payloads {
                seq += 1
                let e = Event(seq: seq, time: Micros(seq) * 1000, context: ctx, payload: p)
                try apply(e, to: views)
                events.append(e)
            }
        }
        return r
    }

    func accept(_ c: Command, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if case .failure(let r) = try run(c) { Issue.record("rejected: \(r)", sourceLocation: sourceLocation) }
    }

    func reject(_ c: Command) throws -> Rejection? {
        if case .failure(let r) = try run(c) { return r }
        return nil
    }
}

let rp1 = "11111111-1111-4111-8111-111111111111"
let rp2 = "22222222-2222-4222-8222-222222222222"
let c1 = "c1c1c1c1-0000-4000-8000-000000000001"
let c2 = "c2c2c2c2-0000-4000-8000-000000000002"

func alloc(_ consumer: String, _ allocations: [(String, [(String, Int64)])], generation: Int64?? = .none,
           project: String = "p", user: String = "u", type: String? = nil, post: Bool = false) -> Command {
    .setAllocations(AllocationRequest(consumers: [
        AllocationRequest.Consumer(uuid: consumer, project: project, user: user, generation: generation, consumerType: type,
                                   allocations: allocations.map { (provider: $0.0, resources: $0.1) }),
    ], origin: post ? .post : .put))
}

/// The event schemas of schemas/events, read from the source tree.
enum EventSchemas {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/events")
    static let byType: [String: Schema] = {
        var out: [String: Schema] = [:]
        for type in EventPayload.allTypes {
            let text = try! String(contentsOf: dir.appendingPathComponent(type + ".json"), encoding: .utf8)
            out[type] = try! Schema(text: text)
        }
        return out
    }()

    /// Validates one stored event against the schema of its type.
    static func check(_ bytes: [UInt8]) throws -> SchemaViolation? {
        let json = try JSONParser.parse(bytes)
        guard let type = json["type"]?.stringValue, let schema = byType[type] else {
            return Schema(.object(JSONObject())).validate(.null) ?? nil
        }
        return schema.validate(json)
    }
}
