import Foundation
import Ledger
import LedgerStore
import PlacementJSON

/// Audit queries over a ledger: what the `/ledger/` API and the `audit` CLI
/// both show, built once here so the two cannot disagree.
public struct Audit: Sendable {
    public let store: LedgerStore
    public init(store: LedgerStore) { self.store = store }

    /// Filters of `GET /ledger/events`.
    public struct EventFilter: Sendable {
        public var consumer: String?
        public var provider: String?
        public var project: String?
        public var user: String?
        public var resourceClass: String?
        public var type: String?
        public var since: Micros?
        public var until: Micros?
        public var after: UInt64 = 0
        public var limit: Int = 100
        public init() {}

        var entries: [IndexEntry] {
            [consumer.map { IndexEntry(.consumer, $0) }, provider.map { IndexEntry(.provider, $0) },
             project.map { IndexEntry(.project, $0) }, user.map { IndexEntry(.user, $0) },
             resourceClass.map { IndexEntry(.resourceClass, $0) }, type.map { IndexEntry(.type, $0) }].compactMap { $0 }
        }
    }

    /// One page of events, oldest first, and whether more may follow.
    public func events(_ f: EventFilter) throws -> (events: [JSON], last: UInt64?, more: Bool) {
        var after = f.after
        if let since = f.since { after = max(after, try store.sequence(atOrBefore: since - 1)) }
        let entries = f.entries
        var picked: [Event] = []
        var more = false
        let want = f.limit + 1
        if let primary = entries.first {
            var cursor = after
            scan: while picked.count < want {
                let seqs = try store.sequences(primary, after: cursor, limit: 512)
                if seqs.isEmpty { break }
                for ev in try store.events(seqs) {
                    cursor = ev.seq
                    if let until = f.until, ev.time > until { break scan }
                    if try entries.dropFirst().allSatisfy({ try store.isIndexed($0, ev.seq) }) {
                        picked.append(ev)
                        if picked.count == want { break scan }
                    }
                }
            }
        } else {
            try store.forEachEvent(from: after + 1) { ev in
                if let until = f.until, ev.time > until { return false }
                picked.append(ev)
                return picked.count < want
            }
        }
        if picked.count > f.limit {
            more = true
            picked.removeLast()
        }
        return (try picked.map { try render($0) }, picked.last?.seq, more)
    }

    /// An event as the audit API shows it; allocation changes carry each
    /// consumer's allocations before and after.
    public func render(_ ev: Event) throws -> JSON {
        var o = JSONObject()
        o["seq"] = .int(Int64(ev.seq))
        o["time"] = .string(formatRFC3339(ev.time))
        o["request_id"] = .string(ev.context.requestID)
        var actor = JSONObject([("user", .string(ev.context.actor.user))])
        actor["project"] = ev.context.actor.project.map(JSON.string) ?? .null
        o["actor"] = .object(actor)
        o["microversion"] = .string(ev.context.microversion)
        o["type"] = .string(ev.payload.type)
        let full = try JSONParser.parse(try ev.encoded())
        o["payload"] = full["payload"] ?? .null
        let consumers = ev.payload.consumers
        if !consumers.isEmpty {
            let before = try store.read(asOf: ev.seq - 1) { v, _ in try consumers.map { try v.consumer($0) } }
            let after = try store.read(asOf: ev.seq) { v, _ in try consumers.map { try v.consumer($0) } }
            o["changes"] = .array(zip(consumers, zip(before, after)).map { c, ba in
                .object(JSONObject([("consumer_uuid", .string(c)), ("before", Self.consumerJSON(ba.0)), ("after", Self.consumerJSON(ba.1))]))
            })
        }
        return .object(o)
    }

    static func consumerJSON(_ c: ConsumerRecord?) -> JSON {
        guard let c else { return .null }
        var allocs = JSONObject()
        for rp in c.allocations.keys.sorted() {
            var res = JSONObject()
            for (rc, n) in c.allocations[rp]!.sorted(by: { $0.key < $1.key }) { res[rc] = .int(n) }
            allocs[rp] = .object(res)
        }
        return .object(JSONObject([
            ("project_id", .string(c.project)), ("user_id", .string(c.user)),
            ("consumer_type", c.consumerType.map(JSON.string) ?? .null), ("generation", .int(c.generation)),
            ("allocations", .object(allocs)),
        ]))
    }

    /// Every event of one consumer, oldest first.
    public func consumerHistory(_ uuid: String, after: UInt64 = 0, limit: Int = 1000) throws -> (events: [JSON], more: Bool) {
        let seqs = try store.sequences(IndexEntry(.consumer, uuid), after: after, limit: limit + 1)
        let page = Array(seqs.prefix(limit))
        return (try store.events(page).map(render), seqs.count > limit)
    }

    /// One point of a provider's history: the event, and the usage and
    /// capacity per class in force right after it.
    public struct ProviderPoint: Sendable {
        public let event: Event
        public let generation: Int64?
        public let usages: [String: Int64]
        public let capacity: [String: Double]
        public let exists: Bool
    }

    public func providerHistory(_ uuid: String, after: UInt64 = 0, limit: Int = 1000,
                                since: Micros? = nil, until: Micros? = nil) throws -> (points: [ProviderPoint], more: Bool) {
        var start = after
        if let since { start = max(start, try store.sequence(atOrBefore: since - 1)) }
        var seqs = try store.sequences(IndexEntry(.provider, uuid), after: start, limit: limit + 1)
        let more = seqs.count > limit
        seqs = Array(seqs.prefix(limit))
        var points: [ProviderPoint] = []
        for ev in try store.events(seqs) {
            if let until, ev.time > until { break }
            let p = try store.read(asOf: ev.seq) { v, _ in try v.provider(uuid) }
            points.append(ProviderPoint(
                event: ev, generation: p?.generation, usages: p.map { pr in pr.inventories.keys.reduce(into: [:]) { $0[$1] = pr.usages[$1] ?? 0 } } ?? [:],
                capacity: p?.inventories.mapValues(\.capacity) ?? [:], exists: p != nil))
        }
        return (points, more)
    }

    public func providerHistoryJSON(_ points: [ProviderPoint]) throws -> [JSON] {
        try points.map { pt in
            guard case .object(var o) = try render(pt.event) else { return .null }
            var usages = JSONObject(), capacity = JSONObject()
            for rc in StandardResourceClasses.sortedByID(Array(pt.capacity.keys)) {
                usages[rc] = .int(pt.usages[rc] ?? 0)
                capacity[rc] = .double(pt.capacity[rc]!)
            }
            o["resource_provider_generation"] = pt.generation.map(JSON.int) ?? .null
            o["usages_after"] = .object(usages)
            o["capacity"] = .object(capacity)
            return .object(o)
        }
    }

    /// Live consumers whose allocations have not changed since `before`
    /// (optionally only those on one provider), oldest change first.
    public func staleConsumers(before: Micros, provider: String? = nil, limit: Int = 1000) throws -> [ConsumerRecord] {
        try store.read { v, _ in
            let candidates: [ConsumerRecord]
            if let provider {
                candidates = try v.consumers(of: provider).compactMap { try v.consumer($0) }
            } else {
                candidates = try v.allConsumers()
            }
            return Array(candidates.filter { $0.updated < before }.sorted { ($0.updated, $0.uuid) < ($1.updated, $1.uuid) }.prefix(limit))
        }
    }
}

/// RFC 3339 UTC with microseconds.
public func formatRFC3339(_ t: Micros) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    let secs = t >= 0 ? t / 1_000_000 : (t - 999_999) / 1_000_000
    let micros = t - secs * 1_000_000
    return f.string(from: Date(timeIntervalSince1970: Double(secs))).replacingOccurrences(of: "Z", with: String(format: ".%06dZ", micros))
}

/// Parses an RFC 3339 time to ledger microseconds, keeping every digit of
/// the fraction up to microseconds (Foundation's parser stops at milliseconds,
/// which would name an earlier event).
public func parseRFC3339(_ s: String) -> Micros? {
    var text = s
    var micros: Int64 = 0
    if let dot = text.firstIndex(of: ".") {
        let fractionEnd = text[dot...].dropFirst().firstIndex { !$0.isNumber } ?? text.endIndex
        let digits = text[text.index(after: dot)..<fractionEnd]
        guard !digits.isEmpty else { return nil }
        let six = String(digits.prefix(6)).padding(toLength: 6, withPad: "0", startingAt: 0)
        micros = Int64(six) ?? 0
        text.removeSubrange(dot..<fractionEnd)
    }
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    guard let d = f.date(from: text) else { return nil }
    return Micros(d.timeIntervalSince1970.rounded()) * 1_000_000 + micros
}

extension Audit {
    /// A consumer record as the audit API shows it (null when absent).
    public static func consumerJSONPublic(_ c: ConsumerRecord?) -> JSON { consumerJSON(c) }
}
