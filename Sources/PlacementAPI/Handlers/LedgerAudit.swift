import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import LedgerAudit
import LedgerStore
import NIOCore
import PlacementJSON
import ServiceLifecycle

/// The audit API under /ledger/: same auth as Placement's admin reads.
extension PlacementAPI {
    static func auditLimit(_ req: PlacementRequest, default d: Int = 100) throws -> Int {
        guard let v = req.queryValue("limit") else { return d }
        guard let n = Int(v), n >= 1, n <= 10_000 else { throw PlacementError.badRequest("limit must be an integer from 1 to 10000, got '\(v)'") }
        return n
    }

    static func auditTime(_ req: PlacementRequest, _ name: String) throws -> Micros? {
        guard let v = req.queryValue(name) else { return nil }
        guard let t = parseRFC3339(v) else { throw PlacementError.badRequest("\(name) must be an RFC 3339 time, got '\(v)'") }
        return t
    }

    static func auditAfter(_ req: PlacementRequest) throws -> UInt64 {
        guard let v = req.queryValue("after") else { return 0 }
        guard let n = UInt64(v) else { throw PlacementError.badRequest("after must be an event sequence number, got '\(v)'") }
        return n
    }

    static func eventFilter(_ req: PlacementRequest) throws -> Audit.EventFilter {
        let known: Set<String> = ["consumer", "resource_provider", "project_id", "user_id", "resource_class", "type",
                                  "since", "until", "after", "limit", "follow"]
        if let unknown = req.query.first(where: { !known.contains($0.0) }) {
            throw PlacementError.badRequest("Unknown query parameter '\(unknown.0)'; known: \(known.sorted().joined(separator: ", "))")
        }
        var f = Audit.EventFilter()
        f.consumer = req.queryValue("consumer")
        f.provider = req.queryValue("resource_provider")
        f.project = req.queryValue("project_id")
        f.user = req.queryValue("user_id")
        f.resourceClass = req.queryValue("resource_class")
        f.type = req.queryValue("type")
        if let t = f.type, !EventPayload.allTypes.contains(t) {
            throw PlacementError.badRequest("Unknown event type '\(t)'; known: \(EventPayload.allTypes.joined(separator: ", "))")
        }
        f.since = try auditTime(req, "since")
        f.until = try auditTime(req, "until")
        f.after = try auditAfter(req)
        f.limit = try auditLimit(req)
        return f
    }

    static let ledgerEvents: Handler = { api, req in
        try req.authorize("placement:ledger:events")
        var f = try eventFilter(req)
        let follow = req.queryValue("follow")?.lowercased() == "true"
            || (req.headers[.accept] ?? "").contains("text/event-stream")
        if follow { return try followEvents(api, req, f) }
        let audit = Audit(store: api.store)
        let page = try audit.events(f)
        let seq = try api.store.lastSequence()
        var o = JSONObject([("events", .array(page.events))])
        if page.more, let last = page.last {
            f.after = last
            let query = req.query.filter { $0.0 != "after" } + [("after", String(last))]
            o["next"] = .string("/ledger/events?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&"))
        } else {
            o["next"] = .null
        }
        return .json(.object(o), sequence: seq)
    }

    /// Server-sent events from `after` on, forever: catch up from the log,
    /// then each new event as its commit lands. Reconnecting with the last
    /// sequence seen (`after=`, or the `Last-Event-ID` header) loses nothing
    /// and repeats nothing.
    static func followEvents(_ api: PlacementAPI, _ req: PlacementRequest, _ filter: Audit.EventFilter) throws -> PlacementResponse {
        var f = filter
        if let lastID = req.headers[HTTPField.Name("Last-Event-ID")!], let n = UInt64(lastID) { f.after = max(f.after, n) }
        f.limit = 500
        let audit = Audit(store: api.store)
        let feed = api.feed
        let start = f
        let body = ResponseBody { writer in
            // A feed never ends by itself: on graceful shutdown (SIGTERM) the
            // feed is closed, the loop stops and the response is finished, so
            // stopping the server does not wait for followers.
            try await withGracefulShutdownHandler {
                var cursor = start.after
                var seen = try api.store.lastSequence()
                while !feed.isClosed {
                    var page = start
                    page.after = cursor
                    let (events, last, more) = try audit.events(page)
                    for e in events {
                        let seq = e["seq"]?.intValue ?? 0
                        try await writer.write(ByteBuffer(string: "id: \(seq)\nevent: ledger-event\ndata: \(JSONWriter.string(e))\n\n"))
                    }
                    // Every matching event up to the page's end was sent; the
                    // ones filtered out need not be looked at again.
                    if more { cursor = last ?? cursor; continue }
                    cursor = max(last ?? cursor, seen, cursor)
                    let next = await feed.wait(after: seen, timeout: 15)
                    if next == seen && !feed.isClosed { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                    seen = next
                }
            } onGracefulShutdown: {
                feed.close()
            }
            try await writer.finish(nil)
        }
        var r = PlacementResponse(status: 200, body: nil, sequence: try api.store.lastSequence())
        r.stream = body
        r.headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        return r
    }

    static let consumerHistory: Handler = { api, req in
        try req.authorize("placement:ledger:events")
        let uuid = req.param("uuid")
        let (events, more) = try Audit(store: api.store).consumerHistory(uuid, after: try auditAfter(req), limit: try auditLimit(req, default: 1000))
        let current = try api.store.read { v, _ in try v.consumer(uuid) }
        return .json(.object(JSONObject([
            ("consumer_uuid", .string(uuid)), ("current", Audit.consumerJSONPublic(current)),
            ("events", .array(events)), ("more", .bool(more)),
        ])), sequence: try api.store.lastSequence())
    }

    static let providerHistory: Handler = { api, req in
        try req.authorize("placement:ledger:events")
        let uuid = req.param("uuid")
        let audit = Audit(store: api.store)
        let (points, more) = try audit.providerHistory(uuid, after: try auditAfter(req), limit: try auditLimit(req, default: 1000),
                                                       since: try auditTime(req, "since"), until: try auditTime(req, "until"))
        return .json(.object(JSONObject([
            ("resource_provider_uuid", .string(uuid)), ("events", .array(try audit.providerHistoryJSON(points))), ("more", .bool(more)),
        ])), sequence: try api.store.lastSequence())
    }

    static let staleConsumers: Handler = { api, req in
        try req.authorize("placement:ledger:events")
        guard let since = try auditTime(req, "unchanged_since") else {
            throw PlacementError.badRequest("unchanged_since (an RFC 3339 time) is required")
        }
        let consumers = try Audit(store: api.store).staleConsumers(before: since, provider: req.queryValue("resource_provider"),
                                                                   limit: try auditLimit(req, default: 1000))
        let rows: [JSON] = consumers.map { c in
            guard case .object(var o) = Audit.consumerJSONPublic(c) else { return .null }
            o["consumer_uuid"] = .string(c.uuid)
            o["last_changed"] = .string(formatRFC3339(c.updated))
            return .object(o)
        }
        return .json(["consumers": .array(rows)], sequence: try api.store.lastSequence())
    }

    static let providerUsagePlot: Handler = { api, req in
        try req.authorize("placement:ledger:events")
        let uuid = req.param("uuid")
        let audit = Audit(store: api.store)
        let (points, _) = try audit.providerHistory(uuid, limit: 100_000, since: try auditTime(req, "since"), until: try auditTime(req, "until"))
        let name = try api.store.read { v, _ in try v.provider(uuid)?.name }
        guard !points.isEmpty || name != nil else { throw PlacementError.notFound("No resource provider with uuid \(uuid) in the ledger") }
        let until = try auditTime(req, "until") ?? nowMicros()
        let svg = UsagePlot.svg(provider: uuid, name: name, points: points, now: until)
        var r = PlacementResponse(status: 200, body: nil, sequence: try api.store.lastSequence())
        r.raw = (Array(svg.utf8), "image/svg+xml")
        return r
    }
}

func percentEncode(_ s: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~:")
    return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
}
