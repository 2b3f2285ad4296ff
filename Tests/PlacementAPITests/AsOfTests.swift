import Foundation
import HTTPTypes
import Testing
import PlacementJSON
@testable import PlacementAPI

/// A deterministic generator for random histories.
struct Rand {
    var state: UInt64
    mutating func next(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(n))
    }
    mutating func pick<T>(_ xs: [T]) -> T { xs[next(xs.count)] }
}

/// Random writes over the HTTP API (valid and invalid), with what a GET of
/// each watched URL answered right after every accepted one.
struct History {
    static let providers = (0..<3).map { String(format: "abcdef00-0000-4000-8000-%012d", $0) }
    static let consumers = (0..<5).map { String(format: "c0ffee00-0000-4000-8000-%012d", $0) }
    static var urls: [String] {
        ["/resource_providers", "/usages?project_id=p1", "/usages?project_id=p2&user_id=u1", "/resource_classes", "/traits?associated=true"]
            + providers.flatMap { ["/resource_providers/\($0)", "/resource_providers/\($0)/inventories", "/resource_providers/\($0)/usages",
                                    "/resource_providers/\($0)/allocations", "/resource_providers/\($0)/traits", "/resource_providers/\($0)/aggregates"] }
            + consumers.map { "/allocations/\($0)" }
    }

    static func write(_ r: inout Rand, _ gens: [String: Int64]) -> (HTTPRequest.Method, String, String?) {
        let p = r.pick(providers)
        let g = gens[p] ?? 0
        switch r.next(10) {
        case 0: return (.post, "/resource_providers", #"{"name": "n\#(p.suffix(2))", "uuid": "\#(p)"}"#)
        case 1: return (.put, "/resource_providers/\(p)/inventories",
                        #"{"resource_provider_generation": \#(g), "inventories": {"VCPU": {"total": \#(4 + r.next(8))}, "MEMORY_MB": {"total": 4096}, "CUSTOM_X": {"total": 3}}}"#)
        case 2: return (.put, "/resource_classes/CUSTOM_X", nil)
        case 3: return (.put, "/resource_providers/\(p)/traits", #"{"traits": ["\#(r.pick(["HW_CPU_X86_AVX", "STORAGE_DISK_SSD"]))"], "resource_provider_generation": \#(g)}"#)
        case 4: return (.put, "/resource_providers/\(p)/aggregates", #"{"aggregates": ["\#(r.pick(consumers))"], "resource_provider_generation": \#(g)}"#)
        case 5: return (.delete, "/allocations/\(r.pick(consumers))", nil)
        default:
            let c = r.pick(consumers)
            let cls = r.pick(["VCPU", "MEMORY_MB", "CUSTOM_X"])
            return (.post, "/allocations", #"{"\#(c)": {"allocations": {"\#(p)": {"resources": {"\#(cls)": \#(1 + r.next(3))}}}, "project_id": "\#(r.pick(["p1", "p2"]))", "user_id": "\#(r.pick(["u1", "u2"]))", "consumer_generation": \#(r.next(4) == 0 ? "null" : "null"), "consumer_type": "INSTANCE"}}"#)
        }
    }

    /// Runs `steps` random writes; returns, per accepted write, its sequence and the answers.
    static func record(_ c: TestServer.Client, seed: UInt64, steps: Int) async throws -> [(UInt64, [String])] {
        var r = Rand(state: seed)
        var out: [(UInt64, [String])] = []
        var gens: [String: Int64] = [:]
        for _ in 0..<steps {
            let (m, u, j) = write(&r, gens)
            let resp = try await c.call(m, u, json: j, version: "1.39")
            if resp.status.code < 300, let seq = resp.sequence, seq > (out.last?.0 ?? 0) {
                out.append((seq, try await answers(c, asOf: nil)))
                for p in providers {
                    let g = try JSONParser.parse(Array(try await c.call(.get, "/resource_providers/\(p)").body.readableBytesView))
                    gens[p] = g["generation"]?.intValue ?? 0
                }
            }
        }
        return out
    }

    static func answers(_ c: TestServer.Client, asOf: String?) async throws -> [String] {
        let requestID = try Regex("req-[0-9a-f-]+")
        var out: [String] = []
        for u in urls {
            var headers: HTTPFields = [HTTPField.Name("x-auth-token")!: "admin", HTTPField.Name("openstack-api-version")!: "placement 1.39"]
            if let asOf { headers[HTTPField.Name("X-Ledger-As-Of")!] = asOf }
            let resp = try await c.client.execute(uri: u, method: .get, headers: headers)
            out.append("\(resp.status.code) " + String(buffer: resp.body).replacing(requestID, with: "req-*"))
        }
        return out
    }
}

@Suite struct AsOfTests {
    /// For random histories, every GET as of every event answers exactly
    /// what the server answered live right after that event.
    @Test(arguments: [11, 12] as [UInt64])
    func asOfEqualsTheLiveAnswer(seed: UInt64) async throws {
        let server = try TestServer()
        try await server.run { c in
            let recorded = try await History.record(c, seed: seed, steps: 120)
            #expect(recorded.count > 30, "too few accepted writes: \(recorded.count)")
            for (seq, live) in recorded {
                let past = try await History.answers(c, asOf: String(seq))
                for (url, (a, b)) in zip(History.urls, zip(live, past)) {
                    #expect(a == b, "GET \(url) as of \(seq)")
                }
            }
            // By time: the instant of an event names that event (the last one at that instant).
            for (seq, live) in recorded.suffix(5) {
                let t = try server.store.time(of: seq)!
                let sameInstant = recorded.filter { (try? server.store.time(of: $0.0)) == t }
                guard sameInstant.last?.0 == seq else { continue }
                let past = try await History.answers(c, asOf: formatTime(t))
                #expect(past == live, "as of the time of event \(seq)")
            }
        }
    }

    @Test func asOfRefusals() async throws {
        let server = try TestServer()
        try await server.run { c in
            try await c.call(.post, "/resource_providers", json: #"{"name": "a"}"#)
            func status(_ asOf: String, _ method: HTTPRequest.Method = .get, _ uri: String = "/resource_providers") async throws -> Int {
                var headers: HTTPFields = [HTTPField.Name("x-auth-token")!: "admin", HTTPField.Name("X-Ledger-As-Of")!: asOf]
                if method != .get { headers[.contentType] = "application/json" }
                return try await c.client.execute(uri: uri, method: method, headers: headers).status.code
            }
            #expect(try await status("1") == 200)
            #expect(try await status("0") == 400)
            #expect(try await status("2") == 400)
            #expect(try await status("yesterday") == 400)
            #expect(try await status("1999-01-01T00:00:00Z") == 400)
            #expect(try await status("2999-01-01T00:00:00Z") == 400)
            #expect(try await status("1", .post) == 400)
        }
    }

    /// The audit histories against a model kept while the writes happen.
    @Test func historiesMatchAModel() async throws {
        let server = try TestServer()
        try await server.run { c in
            let recorded = try await History.record(c, seed: 5, steps: 150)
            let audit = LedgerAuditFacade(store: server.store)
            for consumer in History.consumers {
                // Model: the consumer's GET /allocations right after each event that changed it.
                // Provider generations inside the answer change with other consumers' writes: drop them.
                let generation = try Regex(#""generation": [0-9]+"#)
                let live = recorded.compactMap { seq, answers -> (UInt64, String)? in
                    (seq, answers[History.urls.firstIndex(of: "/allocations/\(consumer)")!].replacing(generation, with: ""))
                }
                var changes: [UInt64] = []
                for (i, entry) in live.enumerated() where i == 0 ? !entry.1.contains(#""allocations": {}"#) : entry.1 != live[i - 1].1 {
                    changes.append(entry.0)
                }
                let history = try audit.consumerSequences(consumer)
                // Every change of the consumer's allocations appears in its history (a write can
                // also leave them as they were, e.g. a type change, so history may hold more).
                #expect(Set(changes).isSubset(of: Set(history)), "consumer \(consumer): \(changes) vs \(history)")
            }
            for p in History.providers {
                let usageURL = History.urls.firstIndex(of: "/resource_providers/\(p)/usages")!
                for (seq, usages) in try audit.providerUsages(p) {
                    let answer = recorded.first { $0.0 == seq }?.1[usageURL] ?? ""
                    for (rc, n) in usages { #expect(answer.contains("\"\(rc)\": \(n)"), "provider \(p) after \(seq): \(rc) \(n) in \(answer)") }
                }
            }
        }
    }
}

func formatTime(_ t: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: Date(timeIntervalSince1970: Double(t / 1_000_000))).replacingOccurrences(of: "Z", with: String(format: ".%06dZ", t % 1_000_000))
}
