import ArgumentParser
import Foundation
import Ledger
import LedgerAudit
import LedgerStore
import PlacementJSON

/// `placement-ledger audit …`: who changed what, when, from the log of a
/// data dir (a running server's too).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Histories of consumers and providers, and stale consumers.",
        subcommands: [ConsumerAudit.self, ProviderAudit.self, StaleAudit.self])

    enum Format: String, ExpressibleByArgument { case table, jsonl }

    struct Options: ParsableArguments {
        @Option(help: "Data directory (may be in use by a running server).") var dataDir = "./data"
        @Option(help: "table or jsonl; default: table on a terminal, jsonl otherwise.") var format: Format?

        var resolvedFormat: Format { format ?? (isatty(STDOUT_FILENO) != 0 ? .table : .jsonl) }
        func audit() throws -> Audit { Audit(store: try LedgerStore(path: dataDir, readOnly: true)) }
    }
}

/// A one-line summary of an allocation change: "VCPU 2 -> 4 on <rp>".
func allocationSummary(_ change: JSON) -> String {
    func allocs(_ j: JSON?) -> [String: [String: Int64]] {
        var out: [String: [String: Int64]] = [:]
        for (rp, res) in j?["allocations"]?.objectValue?.pairs ?? [] {
            for (rc, n) in res.objectValue?.pairs ?? [] { out[rp, default: [:]][rc] = n.intValue ?? 0 }
        }
        return out
    }
    let before = allocs(change["before"]), after = allocs(change["after"])
    var parts: [String] = []
    for rp in Set(before.keys).union(after.keys).sorted() {
        let classes = Set((before[rp] ?? [:]).keys).union((after[rp] ?? [:]).keys).sorted()
        let moves = classes.compactMap { rc -> String? in
            let a = before[rp]?[rc] ?? 0, b = after[rp]?[rc] ?? 0
            return a == b ? nil : "\(rc) \(a)→\(b)"
        }
        if !moves.isEmpty { parts.append(moves.joined(separator: ", ") + " on " + rp.prefix(8)) }
    }
    return parts.isEmpty ? "no change in amounts" : parts.joined(separator: "; ")
}

struct ConsumerAudit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "consumer", abstract: "The whole life of one consumer.")
    @Argument(help: "Consumer UUID.") var uuid: String
    @OptionGroup var options: AuditCommand.Options

    func run() throws {
        let (events, _) = try options.audit().consumerHistory(uuid, limit: 100_000)
        if options.resolvedFormat == .jsonl {
            for e in events { print(JSONWriter.string(e)) }
            return
        }
        if events.isEmpty { print("no events for consumer \(uuid)"); return }
        print(pad("SEQ", 8) + pad("TIME", 29) + pad("ACTOR", 14) + pad("TYPE", 22) + pad("PROJECT/USER", 30) + "CHANGE")
        for e in events {
            let change = e["changes"]?.arrayValue?.first { $0["consumer_uuid"]?.stringValue == uuid } ?? .null
            let state: JSON = change["after"] == .null ? (change["before"] ?? .null) : (change["after"] ?? .null)
            let project: String = state["project_id"]?.stringValue ?? ""
            let user: String = state["user_id"]?.stringValue ?? ""
            let who: String = project.isEmpty ? "" : String(project.prefix(12)) + "/" + String(user.prefix(12))
            var line = pad(String(e["seq"]?.intValue ?? 0), 8)
            line += pad(e["time"]?.stringValue ?? "", 29)
            line += pad(e["actor"]?["user"]?.stringValue ?? "", 14)
            line += pad(e["type"]?.stringValue ?? "", 22)
            line += pad(who, 30) + allocationSummary(change)
            print(line)
        }
    }
}

struct ProviderAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider", abstract: "Every change that touched a provider, with its usage and capacity after each.")
    @Argument(help: "Resource provider UUID.") var uuid: String
    @Option(help: "Write an SVG plot of usage against capacity to this file.") var plot: String?
    @Option(help: "Only changes at or after this RFC 3339 time.") var since: String?
    @Option(help: "Only changes at or before this RFC 3339 time.") var until: String?
    @OptionGroup var options: AuditCommand.Options

    func run() throws {
        let audit = try options.audit()
        let sinceT = try since.map { s in try parseRFC3339(s) ?? { throw ValidationError("--since must be RFC 3339") }() }
        let untilT = try until.map { s in try parseRFC3339(s) ?? { throw ValidationError("--until must be RFC 3339") }() }
        let (points, _) = try audit.providerHistory(uuid, limit: 1_000_000, since: sinceT, until: untilT)
        if let plot {
            let name = try audit.store.read { v, _ in try v.provider(uuid)?.name }
            let now = untilT ?? Micros(Date().timeIntervalSince1970 * 1_000_000)
            try UsagePlot.svg(provider: uuid, name: name, points: points, now: now).write(toFile: plot, atomically: true, encoding: .utf8)
            FileHandle.standardError.write("wrote \(plot)\n".data(using: .utf8)!)
        }
        if options.resolvedFormat == .jsonl {
            for e in try audit.providerHistoryJSON(points) { print(JSONWriter.string(e)) }
            return
        }
        if points.isEmpty { print("no events for provider \(uuid)"); return }
        print(pad("SEQ", 8) + pad("TIME", 29) + pad("ACTOR", 14) + pad("TYPE", 30) + pad("CONSUMER", 10) + "USED/CAPACITY AFTER")
        for pt in points {
            let usage = StandardResourceClasses.sortedByID(Array(pt.capacity.keys)).map { rc in
                "\(rc) \(pt.usages[rc] ?? 0)/\(UsagePlot.label(pt.capacity[rc]!))"
            }.joined(separator: "  ")
            let consumer = pt.event.payload.consumers.first.map { String($0.prefix(8)) } ?? ""
            print(pad(String(pt.event.seq), 8) + pad(formatRFC3339(pt.event.time), 29) + pad(pt.event.context.actor.user, 14)
                  + pad(pt.event.payload.type, 30) + pad(consumer, 10) + (pt.exists ? usage : "(deleted)"))
        }
    }
}

struct StaleAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stale", abstract: "Live consumers whose allocations have not changed since a time: leak candidates.")
    @Option(help: "RFC 3339 time: consumers unchanged since then.") var before: String
    @Option(help: "Only consumers with allocations on this provider.") var resourceProvider: String?
    @Option(help: "At most this many, oldest first.") var limit = 1000
    @OptionGroup var options: AuditCommand.Options

    func run() throws {
        guard let t = parseRFC3339(before) else { throw ValidationError("--before must be an RFC 3339 time, got \(before)") }
        let consumers = try options.audit().staleConsumers(before: t, provider: resourceProvider, limit: limit)
        if options.resolvedFormat == .jsonl {
            for c in consumers {
                guard case .object(var o) = Audit.consumerJSONPublic(c) else { continue }
                o["consumer_uuid"] = .string(c.uuid)
                o["last_changed"] = .string(formatRFC3339(c.updated))
                print(JSONWriter.string(.object(o)))
            }
            return
        }
        print(pad("CONSUMER", 38) + pad("LAST CHANGED", 29) + pad("PROJECT", 20) + pad("USER", 20) + "ALLOCATIONS")
        for c in consumers {
            let allocs = c.allocations.sorted { $0.key < $1.key }.map { rp, res in
                res.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + " on " + rp.prefix(8)
            }.joined(separator: "; ")
            print(pad(c.uuid, 38) + pad(formatRFC3339(c.updated), 29) + pad(String(c.project.prefix(19)), 20)
                  + pad(String(c.user.prefix(19)), 20) + allocs)
        }
        if consumers.isEmpty { print("no consumer unchanged since \(before)") }
    }
}
