import PlacementJSON

/// The JSON form of the view records (their first stored form, still read,
/// and how `verify` shows a record), in a fixed key order.

struct RecordDecodingError: Error, CustomStringConvertible {
    let what: String
    var description: String { "stored view record is damaged: \(what)" }
}

private func int(_ j: JSON?, _ name: String) throws -> Int64 {
    switch j {
    case .int(let i)?: return i
    case .double(let d)?: return Int64(d)
    default: throw RecordDecodingError(what: "\(name) is not an integer")
    }
}

private func str(_ j: JSON?, _ name: String) throws -> String {
    guard case .string(let s)? = j else { throw RecordDecodingError(what: "\(name) is not a string") }
    return s
}

private func optionalStr(_ j: JSON?) -> String? {
    if case .string(let s)? = j { return s }
    return nil
}

private func counts(_ d: [String: Int64]) -> JSON {
    .object(JSONObject(d.keys.sorted().map { ($0, .int(d[$0]!)) }))
}

private func counts(_ j: JSON?, _ name: String) throws -> [String: Int64] {
    var out: [String: Int64] = [:]
    for (k, v) in j?.objectValue?.pairs ?? [] { out[k] = try int(v, name) }
    return out
}

extension InventoryRecord: StoredRecord {
    var json: JSON {
        .object(JSONObject([
            ("allocation_ratio", .double(allocationRatio)), ("max_unit", .int(maxUnit)), ("min_unit", .int(minUnit)),
            ("reserved", .int(reserved)), ("step_size", .int(stepSize)), ("total", .int(total)), ("updated", .int(updated)),
        ]))
    }
    init(json j: JSON) throws {
        let ratio: Double
        switch j["allocation_ratio"] {
        case .double(let d)?: ratio = d
        case .int(let i)?: ratio = Double(i)
        default: throw RecordDecodingError(what: "allocation_ratio")
        }
        self.init(total: try int(j["total"], "total"), reserved: try int(j["reserved"], "reserved"),
                  minUnit: try int(j["min_unit"], "min_unit"), maxUnit: try int(j["max_unit"], "max_unit"),
                  stepSize: try int(j["step_size"], "step_size"), allocationRatio: ratio, updated: try int(j["updated"], "updated"))
    }
}

extension ProviderRecord: StoredRecord {
    var json: JSON {
        .object(JSONObject([
            ("aggregates", .array(aggregates.map(JSON.string))), ("created", .int(created)), ("generation", .int(generation)),
            ("inventories", .object(JSONObject(inventories.keys.sorted().map { ($0, inventories[$0]!.json) }))),
            ("name", .string(name)), ("parent", parent.map(JSON.string) ?? .null), ("root", .string(root)),
            ("traits", .array(traits.map(JSON.string))), ("updated", .int(updated)), ("usages", counts(usages)),
            ("uuid", .string(uuid)),
        ]))
    }
    init(json j: JSON) throws {
        var invs: [String: InventoryRecord] = [:]
        for (k, v) in j["inventories"]?.objectValue?.pairs ?? [] { invs[k] = try InventoryRecord(json: v) }
        self.init(uuid: try str(j["uuid"], "uuid"), name: try str(j["name"], "name"), generation: try int(j["generation"], "generation"),
                  parent: optionalStr(j["parent"]), root: try str(j["root"], "root"), inventories: invs,
                  usages: try counts(j["usages"], "usages"), traits: (j["traits"]?.arrayValue ?? []).compactMap(\.stringValue),
                  aggregates: (j["aggregates"]?.arrayValue ?? []).compactMap(\.stringValue),
                  created: try int(j["created"], "created"), updated: try int(j["updated"], "updated"))
    }
}

extension ConsumerRecord: StoredRecord {
    var json: JSON {
        .object(JSONObject([
            ("allocations", .object(JSONObject(allocations.keys.sorted().map { ($0, counts(allocations[$0]!)) }))),
            ("consumer_type", consumerType.map(JSON.string) ?? .null), ("created", .int(created)), ("generation", .int(generation)),
            ("project", .string(project)), ("updated", .int(updated)), ("user", .string(user)), ("uuid", .string(uuid)),
        ]))
    }
    init(json j: JSON) throws {
        var allocs: [String: [String: Int64]] = [:]
        for (rp, res) in j["allocations"]?.objectValue?.pairs ?? [] { allocs[rp] = try counts(res, "allocations") }
        self.init(uuid: try str(j["uuid"], "uuid"), project: try str(j["project"], "project"), user: try str(j["user"], "user"),
                  consumerType: optionalStr(j["consumer_type"]), generation: try int(j["generation"], "generation"),
                  allocations: allocs, created: try int(j["created"], "created"), updated: try int(j["updated"], "updated"))
    }
}

extension UsageRecord: StoredRecord {
    var json: JSON { .object(JSONObject([("consumers", .int(consumers)), ("resources", counts(resources))])) }
    init(json j: JSON) throws {
        self.init(resources: try counts(j["resources"], "resources"), consumers: try int(j["consumers"], "consumers"))
    }
}

extension NamedRecord: StoredRecord {
    var json: JSON {
        .object(JSONObject([("created", .int(created)), ("name", .string(name)), ("updated", updated.map(JSON.int) ?? .null)]))
    }
    init(json j: JSON) throws {
        let updated: Int64? = if case .int(let u)? = j["updated"] { u } else { nil }
        self.init(name: try str(j["name"], "name"), created: try int(j["created"], "created"), updated: updated)
    }
}
