import PlacementJSON

/// The stored form of an event, written and read by hand: JSON with sorted
/// keys and ASCII-only strings (so equal events are equal bytes). `replay`
/// and `verify` read every event of the log, and Foundation's JSON coders
/// cost most of a fold; these cost a fraction. Events written by earlier
/// builds with JSONEncoder (which escapes `/` as `\/`) read the same.
enum EventCodec {
    // MARK: writing

    static func encode(_ e: Event) -> [UInt8] {
        var w = Writer()
        w.out.reserveCapacity(320)
        w.open()
        w.key("actor")
        w.open()
        if let p = e.context.actor.project { w.key("project"); w.string(p) }
        w.key("user"); w.string(e.context.actor.user)
        w.close()
        w.key("microversion"); w.string(e.context.microversion)
        w.key("payload"); w.payload(e.payload)
        w.key("request_id"); w.string(e.context.requestID)
        w.key("seq"); w.int(Int64(e.seq))
        w.key("time"); w.int(e.time)
        w.key("type"); w.string(e.payload.type)
        w.key("version"); w.int(Int64(Event.payloadVersion))
        w.close()
        return w.out
    }

    private struct Writer {
        var out: [UInt8] = []
        private var first = true

        mutating func open() { out.append(UInt8(ascii: "{")); first = true }
        mutating func close() { out.append(UInt8(ascii: "}")); first = false }
        mutating func key(_ k: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        mutating func key(_ k: String) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.writeString(k, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        mutating func string(_ s: String) { JSONWriter.writeString(s, into: &out); first = false }
        mutating func int(_ i: Int64) { out.append(contentsOf: String(i).utf8); first = false }
        mutating func double(_ d: Double) { out.append(contentsOf: JSONWriter.formatDouble(d).utf8); first = false }
        mutating func bool(_ b: Bool) { out.append(contentsOf: (b ? "true" : "false").utf8); first = false }
        mutating func strings(_ list: [String]) {
            out.append(UInt8(ascii: "["))
            for (n, s) in list.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(s, into: &out)
            }
            out.append(UInt8(ascii: "]"))
            first = false
        }

        /// An object with sorted keys, one value written by `value` per key.
        mutating func map<V>(_ d: [String: V], _ value: (inout Writer, V) -> Void) {
            open()
            for k in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                key(k)
                value(&self, d[k]!)
            }
            close()
        }

        mutating func inventory(_ inv: InventoryRecord) {
            open()
            key("allocation_ratio"); double(inv.allocationRatio)
            key("max_unit"); int(inv.maxUnit)
            key("min_unit"); int(inv.minUnit)
            key("reserved"); int(inv.reserved)
            key("step_size"); int(inv.stepSize)
            key("total"); int(inv.total)
            key("updated"); int(inv.updated)
            close()
        }

        mutating func consumers(_ cs: [ConsumerAllocations]) {
            out.append(UInt8(ascii: "["))
            for (n, c) in cs.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                open()
                key("allocations"); map(c.allocations) { w, res in w.map(res) { w, n in w.int(n) } }
                if let t = c.consumerType { key("consumer_type"); string(t) }
                key("consumer_uuid"); string(c.consumer)
                key("project_id"); string(c.project)
                key("user_id"); string(c.user)
                close()
            }
            out.append(UInt8(ascii: "]"))
            first = false
        }

        mutating func payload(_ p: EventPayload) {
            open()
            switch p {
            case .providerCreated(let u, let n, let parent), .providerUpdated(let u, let n, let parent):
                key("name"); string(n)
                if let parent { key("parent_provider_uuid"); string(parent) }
                key("uuid"); string(u)
            case .providerDeleted(let u):
                key("uuid"); string(u)
            case .inventoriesReplaced(let rp, let inv):
                key("inventories"); map(inv) { w, i in w.inventory(i) }
                key("resource_provider"); string(rp)
            case .resourceClassCreated(let n), .resourceClassDeleted(let n), .traitCreated(let n), .traitDeleted(let n):
                key("name"); string(n)
            case .resourceClassRenamed(let f, let t):
                key("from"); string(f)
                key("to"); string(t)
            case .providerTraitsReplaced(let rp, let traits):
                key("resource_provider"); string(rp)
                key("traits"); strings(traits)
            case .providerAggregatesReplaced(let rp, let aggs, let bumps):
                key("aggregates"); strings(aggs)
                key("bumps_generation"); bool(bumps)
                key("resource_provider"); string(rp)
            case .allocationsReplaced(let cs):
                key("consumers"); consumers(cs)
            case .allocationsDeleted(let c):
                key("consumer_uuid"); string(c)
            case .reshaped(let inv, let cs):
                key("consumers"); consumers(cs)
                key("inventories"); map(inv) { w, classes in w.map(classes) { w, i in w.inventory(i) } }
            }
            close()
        }
    }

    // MARK: reading

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    static func decode(_ raw: UnsafeRawBufferPointer) throws -> Event {
        var r = JSONReader(raw)
        var seq: Int64?, time: Int64?, version: Int64?
        var requestID: String?, microversion: String?, type: String?
        var actor: Actor?
        var payload: UnsafeRawBufferPointer?
        try r.object { r, key in
            switch key {
            case "seq": seq = try r.int()
            case "time": time = try r.int()
            case "version": version = try r.int()
            case "request_id": requestID = try r.string()
            case "microversion": microversion = try r.string()
            case "type": type = try r.string()
            case "payload": payload = try r.rawValue()
            case "actor":
                var user: String?, project: String?
                try r.object { r, k in
                    switch k {
                    case "user": user = try r.string()
                    case "project": project = try r.null() ? nil : r.string()
                    default: try r.skip()
                    }
                }
                actor = Actor(user: try need(user, "actor.user"), project: project)
            default: try r.skip()
            }
        }
        try r.end()
        guard let seq, seq >= 0 else { throw Malformed(description: "event without a sequence number") }
        guard let version = version, version == Int64(Event.payloadVersion) else {
            throw Malformed(description: "unknown payload version \(version.map(String.init) ?? "none")")
        }
        let context = EventContext(requestID: try need(requestID, "request_id"), actor: try need(actor, "actor"),
                                   microversion: try need(microversion, "microversion"))
        var p = JSONReader(try need(payload, "payload"))
        let decoded = try self.payload(type: try need(type, "type"), &p)
        try p.end()
        return Event(seq: UInt64(seq), time: try need(time, "time"), context: context, payload: decoded)
    }

    private static func need<T>(_ v: T?, _ what: String) throws -> T {
        guard let v else { throw Malformed(description: "event without \(what)") }
        return v
    }

    private static func payload(type: String, _ r: inout JSONReader) throws -> EventPayload {
        var strings: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var bumps: Bool?
        var inventories: [String: InventoryRecord]?
        var nested: [String: [String: InventoryRecord]]?
        var consumers: [ConsumerAllocations]?
        try r.object { r, key in
            switch key {
            case "traits", "aggregates":
                var list: [String] = []
                try r.array { r in list.append(try r.string()) }
                lists[key] = list
            case "bumps_generation": bumps = try r.bool()
            case "consumers": consumers = try allocations(&r)
            case "inventories":
                if type == "Reshaped" {
                    var out: [String: [String: InventoryRecord]] = [:]
                    try r.object { r, rp in out[rp] = try inventoryMap(&r) }
                    nested = out
                } else {
                    inventories = try inventoryMap(&r)
                }
            default:
                if try !r.null() { strings[key] = try r.string() }
            }
        }
        func s(_ k: String) throws -> String { try need(strings[k], "payload.\(k)") }
        switch type {
        case "ResourceProviderCreated": return .providerCreated(uuid: try s("uuid"), name: strings["name"] ?? "", parent: strings["parent_provider_uuid"])
        case "ResourceProviderUpdated": return .providerUpdated(uuid: try s("uuid"), name: strings["name"] ?? "", parent: strings["parent_provider_uuid"])
        case "ResourceProviderDeleted": return .providerDeleted(uuid: try s("uuid"))
        case "InventoriesReplaced":
            return .inventoriesReplaced(provider: try s("resource_provider"), inventories: try need(inventories, "payload.inventories"))
        case "ResourceClassCreated": return .resourceClassCreated(name: try s("name"))
        case "ResourceClassRenamed": return .resourceClassRenamed(from: try s("from"), to: try s("to"))
        case "ResourceClassDeleted": return .resourceClassDeleted(name: try s("name"))
        case "TraitCreated": return .traitCreated(name: try s("name"))
        case "TraitDeleted": return .traitDeleted(name: try s("name"))
        case "ResourceProviderTraitsReplaced":
            return .providerTraitsReplaced(provider: try s("resource_provider"), traits: try need(lists["traits"], "payload.traits"))
        case "ResourceProviderAggregatesReplaced":
            return .providerAggregatesReplaced(provider: try s("resource_provider"), aggregates: try need(lists["aggregates"], "payload.aggregates"),
                                               bumpsGeneration: try need(bumps, "payload.bumps_generation"))
        case "AllocationsReplaced": return .allocationsReplaced(consumers: try need(consumers, "payload.consumers"))
        case "AllocationsDeleted": return .allocationsDeleted(consumer: try s("consumer_uuid"))
        case "Reshaped":
            return .reshaped(inventories: try need(nested, "payload.inventories"), consumers: try need(consumers, "payload.consumers"))
        default: throw Malformed(description: "unknown event type \(type)")
        }
    }

    private static func inventoryMap(_ r: inout JSONReader) throws -> [String: InventoryRecord] {
        var out: [String: InventoryRecord] = [:]
        try r.object { r, rc in
            var ints: [Int64?] = Array(repeating: nil, count: 6)
            var ratio: Double?
            try r.object { r, k in
                switch k {
                case "allocation_ratio": ratio = try r.double()
                case "total": ints[0] = try r.int()
                case "reserved": ints[1] = try r.int()
                case "min_unit": ints[2] = try r.int()
                case "max_unit": ints[3] = try r.int()
                case "step_size": ints[4] = try r.int()
                case "updated": ints[5] = try r.int()
                default: try r.skip()
                }
            }
            guard let ratio, let total = ints[0], let reserved = ints[1], let minUnit = ints[2], let maxUnit = ints[3],
                  let step = ints[4], let updated = ints[5] else { throw Malformed(description: "incomplete inventory of \(rc)") }
            out[rc] = InventoryRecord(total: total, reserved: reserved, minUnit: minUnit, maxUnit: maxUnit,
                                      stepSize: step, allocationRatio: ratio, updated: updated)
        }
        return out
    }

    private static func allocations(_ r: inout JSONReader) throws -> [ConsumerAllocations] {
        var out: [ConsumerAllocations] = []
        try r.array { r in
            var consumer: String?, project: String?, user: String?, type: String?
            var allocations: [String: [String: Int64]] = [:]
            try r.object { r, k in
                switch k {
                case "consumer_uuid": consumer = try r.string()
                case "project_id": project = try r.string()
                case "user_id": user = try r.string()
                case "consumer_type": type = try r.null() ? nil : r.string()
                case "allocations":
                    try r.object { r, rp in
                        var res: [String: Int64] = [:]
                        try r.object { r, rc in res[rc] = try r.int() }
                        allocations[rp] = res
                    }
                default: try r.skip()
                }
            }
            out.append(ConsumerAllocations(consumer: try need(consumer, "consumer_uuid"), project: try need(project, "project_id"),
                                           user: try need(user, "user_id"), consumerType: type, allocations: allocations))
        }
        return out
    }
}
