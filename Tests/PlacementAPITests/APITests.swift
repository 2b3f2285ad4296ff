import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LedgerStore
import Testing
@testable import PlacementAPI

let rpA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
let rpB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
let consumerA = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"

@Suite struct APITests {
    @Test func everyResponseNamesTheSequenceItReflects() async throws {
        let server = try TestServer()
        try await server.run { c in
            #expect(try await c.call(.get, "/").sequence == 0)
            let created = try await c.call(.post, "/resource_providers", json: #"{"name": "a", "uuid": "\#(rpA)"}"#)
            #expect(created.status == .ok)
            #expect(created.sequence == 1)
            #expect(try await c.call(.get, "/resource_providers/\(rpA)").sequence == 1)
        }
    }

    /// A refused request gets Placement's error and leaves the log as it was.
    @Test func refusedWritesWriteNothing() async throws {
        let longClass = String(repeating: "VCPU", count: 150)  // matches ^[A-Z0-9_]+$, 600 bytes
        let server = try TestServer()
        try await server.run { c in
            try await c.call(.post, "/resource_providers", json: #"{"name": "a", "uuid": "\#(rpA)"}"#)
            let bad: [(HTTPRequest.Method, String, String)] = [
                (.post, "/resource_providers", #"{"name": "a"}"#),                                   // duplicate name
                (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 5, "inventories": {}}"#),
                (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 0}}}"#),
                (.put, "/allocations/\(consumerA)", #"{"allocations": {"\#(rpA)": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"}"#),
                (.delete, "/resource_providers/\(rpB)", ""),
                // Inventory keys no pattern checks: "" (a null one is a 500 in Placement) and longer than an LMDB key.
                (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 0, "inventories": {"": null}}"#),
                (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 0, "inventories": {"": {"total": 1}}}"#),
                (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 0, "inventories": {"\#(longClass)": {"total": 1}}}"#),
                (.put, "/resource_providers/\(rpA)/inventories/\(longClass)", #"{"resource_provider_generation": 0, "total": 1}"#),
                (.put, "/allocations/\(consumerA)", #"{"allocations": {"\#(rpA)": {"resources": {"\#(longClass)": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"}"#),
            ]
            for (method, uri, json) in bad {
                let r = try await c.call(method, uri, json: json.isEmpty ? nil : json)
                #expect((400..<500).contains(r.status.code), "\(method) \(uri): \(r.status)")
                #expect(r.text.contains("\"code\": \"placement."), "\(r.text)")
            }
            #expect(try server.store.lastSequence() == 1)
        }
    }

    /// Hostile bodies get a 4xx, never a crash, and write nothing.
    @Test func hostileBodiesAreRefused() async throws {
        let server = try TestServer(limits: RequestLimits(maxBodyBytes: 64 * 1024))
        try await server.run { c in
            let cases: [([UInt8], Int)] = [
                (Array(String(repeating: "[", count: 10_000).utf8), 400),
                (Array(#"{"name": "x", "uuid": "\#(rpA)", "extra": 99999999999999999999999999}"#.utf8), 400),
                ([0x7B, 0x22, 0x6E, 0x61, 0x6D, 0x65, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D], 400),  // invalid UTF-8
                (Array(#"{"name": "a\u0000b"}"#.utf8), 200),  // NUL in a name is just a character
                ([UInt8](repeating: 0x20, count: 128 * 1024), 413),
                (Array("not json".utf8), 400),
            ]
            for (body, status) in cases {
                let r = try await c.call(.post, "/resource_providers", body: body)
                #expect(r.status.code == status, "\(r.status) \(r.text.prefix(200))")
            }
            let total = try await c.call(.put, "/resource_providers/\(rpA)/inventories",
                                         json: #"{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4294967296}}}"#)
            #expect(total.status.code == 404 || total.status.code == 400)
            #expect(try server.store.lastSequence() == 1)
        }
    }

    @Test func microversionNegotiation() async throws {
        let server = try TestServer()
        try await server.run { c in
            let latest = try await c.call(.get, "/resource_providers", version: "latest")
            #expect(latest.headers[HTTPField.Name("openstack-api-version")!] == "placement 1.39")
            #expect(try await c.call(.get, "/resource_providers", version: "1.40").status == .notAcceptable)
            #expect(try await c.call(.get, "/resource_providers", version: "1.x").status == .badRequest)
            #expect(try await c.call(.get, "/resource_classes", version: "1.1").status == .notFound)
            #expect(try await c.call(.get, "/resource_providers", token: nil).status == .unauthorized)
            #expect(try await c.call(.get, "/resource_providers", token: "someone").status == .forbidden)
            let wrong = try await c.call(.patch, "/resource_providers")
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[HTTPField.Name("allow")!] == "GET, POST")
        }
    }
}

/// `replay --to-sequence N` gives a data dir that answers every GET exactly
/// as the original answered right after event N.
@Suite struct ReplayTests {
    static let urls = [
        "/resource_providers", "/resource_providers/\(rpA)", "/resource_providers/\(rpA)/inventories",
        "/resource_providers/\(rpA)/usages", "/resource_providers/\(rpA)/allocations", "/resource_providers/\(rpB)/usages",
        "/allocations/\(consumerA)", "/usages?project_id=p", "/resource_classes", "/traits?name=startswith:CUSTOM",
        "/resource_providers/\(rpA)/traits", "/resource_providers/\(rpA)/aggregates",
    ]

    static let writes: [(HTTPRequest.Method, String, String?)] = [
        (.post, "/resource_providers", #"{"name": "a", "uuid": "\#(rpA)"}"#),
        (.post, "/resource_providers", #"{"name": "b", "uuid": "\#(rpB)", "parent_provider_uuid": "\#(rpA)"}"#),
        (.put, "/resource_classes/CUSTOM_FPGA", nil),
        (.put, "/resource_providers/\(rpA)/inventories", #"{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8}, "CUSTOM_FPGA": {"total": 2}}}"#),
        (.put, "/allocations/\(consumerA)", #"{"allocations": {"\#(rpA)": {"resources": {"VCPU": 2, "CUSTOM_FPGA": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"}"#),
        (.put, "/traits/CUSTOM_FAST", nil),
        (.put, "/resource_providers/\(rpA)/traits", #"{"traits": ["CUSTOM_FAST"], "resource_provider_generation": 2}"#),
        (.put, "/resource_providers/\(rpA)/aggregates", #"{"aggregates": ["\#(rpB)"], "resource_provider_generation": 3}"#),
        (.put, "/allocations/\(consumerA)", #"{"allocations": {"\#(rpA)": {"resources": {"VCPU": 5}}}, "project_id": "p", "user_id": "u2", "consumer_generation": 1, "consumer_type": "MIGRATION"}"#),
        (.put, "/resource_providers/\(rpB)", #"{"name": "b2", "parent_provider_uuid": null}"#),
        (.delete, "/allocations/\(consumerA)", nil),
        (.delete, "/resource_providers/\(rpA)/inventories/CUSTOM_FPGA", nil),
    ]

    static func answers(_ c: TestServer.Client) async throws -> [String] {
        var out: [String] = []
        // Request ids differ between any two requests; everything else must not.
        let requestID = try Regex("req-[0-9a-f-]+")
        for u in urls { out.append(try await c.call(.get, u).text.replacing(requestID, with: "req-*")) }
        return out
    }

    @Test func replayReproducesEveryAnswer() async throws {
        let source = tempPath("replay-src")
        let server = try TestServer(path: source)
        let recorded: [(UInt64, [String])] = try await server.run { c in
            var out: [(UInt64, [String])] = []
            for (method, uri, json) in Self.writes {
                let r = try await c.call(method, uri, json: json, version: "1.38")
                #expect(r.status.code < 300, "\(method) \(uri): \(r.text)")
                out.append((r.sequence ?? 0, try await Self.answers(c)))
            }
            return out
        }
        #expect(recorded.map(\.0) == Array(1...UInt64(Self.writes.count)))
        for (seq, expected) in recorded {
            let dest = tempPath("replay-dst")
            try LogFold.replay(from: server.store, into: dest, target: .sequence(seq))
            let replayed = try TestServer(path: dest)
            let got = try await replayed.run { c in try await Self.answers(c) }
            for (url, (a, b)) in zip(Self.urls, zip(expected, got)) {
                #expect(a == b, "after event \(seq), GET \(url)")
            }
        }
    }
}
