import Foundation

/// The fold of a whole log in memory, for `verify`: the same arithmetic as
/// `apply` (Apply.swift), over state kept in arrays indexed by interned ids
/// instead of records in `String`-keyed dictionaries. Allocation events (all
/// but a few of any real log) are read straight from their stored bytes into
/// ids, without decoding an `Event`; every other event, and any allocation
/// event in a form the fast reader does not take (escapes, other key order,
/// anything malformed), goes through `Event.decoded` and is folded from the
/// decoded payload, so the two ways of reading agree by construction.
///
/// Only the primary state is kept (providers, consumers, usages, custom
/// classes and traits); the index tables (names, children, provider links,
/// aggregate, trait and class memberships) are functions of it and are
/// written out by `storedTables()`. A test folds random logs both ways and compares
/// every table byte for byte.
public struct InternedFold {
    var providerIDs = Interner()
    var consumerIDs = Interner()
    var classIDs = Interner()
    /// Projects, users and consumer types.
    var nameIDs = Interner()
    /// (project, user, type) ids, 12 bytes, for the usages records.
    var usageIDs = Interner()

    /// Marks an absent per-class amount in a provider's usages (Placement's
    /// dictionary keeps a class whose usage was raised by 0).
    static let absent = Int64.min

    struct Provider {
        var name: String
        var generation: Int64
        var parent: Int32  // -1: none
        var root: Int32
        var inventories: [Int32: InventoryRecord]
        /// By class id; `absent` where the record has no entry.
        var usages: [Int64]
        var traits: [String]
        var aggregates: [String]
        var created: Micros
        var updated: Micros
        /// The last event (by fold position) that bumped the generation for allocations.
        var bumpedBy: Int

        /// Adds (sign 1) or takes back (-1) one amount of a consumer's
        /// allocations; `bump` is the event that bumps the generation, once.
        mutating func hold(_ a: Amount, sign: Int64, now: Micros, bump: Int?) {
            if a.resourceClass >= 0 {
                let rc = Int(a.resourceClass)
                let had = rc < usages.count ? usages[rc] : InternedFold.absent
                let value: Int64
                if sign > 0 {
                    value = (had == InternedFold.absent ? 0 : had) + a.amount
                } else {
                    let left = (had == InternedFold.absent ? 0 : had) - a.amount
                    value = left == 0 ? InternedFold.absent : left
                }
                if rc >= usages.count {
                    if value == InternedFold.absent { return updated(now, bump) }
                    usages += repeatElement(InternedFold.absent, count: rc + 1 - usages.count)
                }
                usages[rc] = value
            }
            updated(now, bump)
        }

        private mutating func updated(_ now: Micros, _ bump: Int?) {
            updated = now
            if let bump, bumpedBy != bump {
                bumpedBy = bump
                generation += 1
            }
        }
    }

    /// One (provider, class, amount) of a consumer's allocations; class -1
    /// stands for a provider named with no resources.
    struct Amount {
        var provider: Int32
        var resourceClass: Int32
        var amount: Int64
    }

    struct Consumer {
        var project: Int32
        var user: Int32
        var type: Int32  // -1: none
        var generation: Int64
        var amounts: [Amount]
        var created: Micros
        var updated: Micros
        /// The id of its usages record (`usageID` of its project, user and type).
        var usage: Int
    }

    struct Usage {
        /// By class id; 0 is absent (the record drops a class that sums to 0).
        var resources: [Int64]
        var consumers: Int64
    }

    var providers: [Provider?] = []
    var consumers: [Consumer?] = []
    var usages: [Usage?] = []
    var resourceClasses: [String: NamedRecord] = [:]
    var traits: [String: NamedRecord] = [:]
    /// Events folded so far.
    public internal(set) var count = 0
    /// How many of them the fast reader took.
    public internal(set) var readFast = 0

    /// One consumer of the event being folded: its new amounts are
    /// `scratch[start..<end]`.
    struct NewAllocations {
        var consumer: Int32
        var project: Int32
        var user: Int32
        var type: Int32
        var start: Int
        var end: Int
        /// Its usages record's id, once the journal looked it up (-1 before).
        var usage = -1
    }
    var pending: [NewAllocations] = []
    var scratch: [Amount] = []

    /// The id of the empty consumer type.
    let noType: Int32

    /// Set in the pipelined fold's stager (InternedFold+Pipeline.swift), which
    /// only interns and stages: it keeps no provider or consumer tables.
    var stagesOnly = false
    /// Set in the pipelined fold's state while its interners are with the
    /// stager: a missing provider is then thrown by id, for the stager to name.
    var internersAway = false

    /// What `replay` writes besides the views, when it asked for it (InternedFold+Journal.swift).
    var journal: FoldJournal?
    /// Class ids in name order, for the journal's record bytes.
    var journalClassOrder = ClassOrder()
    /// The journal's pieces of provider records (`journaledProviderBytes`), by id; dropped by any event `apply` folds.
    var providerPieces: [ProviderPieces?] = []

    public init() { noType = nameIDs.id("") }

    /// Folds one stored event.
    public mutating func apply(stored raw: UnsafeRawBufferPointer) throws {
        count += 1
        unstage()
        var reader = StoredAllocationReader(raw)
        if let time = reader.read(into: &self) {
            readFast += 1
            try replaceAllocations(bump: reader.bumps, now: time)
            return
        }
        try fold(try Event.decoded(raw))
    }

    /// Folds one decoded event.
    public mutating func apply(_ event: Event) throws {
        count += 1
        try fold(event)
    }

    /// Folds a decoded event, dropping whatever a reader staged before it gave up.
    mutating func fold(_ event: Event) throws {
        unstage()
        let now = event.time
        switch event.payload {
        case .providerCreated(let uuid, let name, let parent):
            let id = providerID(uuid)
            let parentID = parent.map { providerID($0) } ?? -1
            let root = parentID >= 0 ? providers[Int(parentID)]?.root ?? id : id
            providers[Int(id)] = Provider(name: name, generation: 0, parent: parentID, root: root, inventories: [:], usages: [],
                                          traits: [], aggregates: [], created: now, updated: now, bumpedBy: 0)

        case .providerUpdated(let uuid, let name, let parent):
            let id = try existingProvider(uuid)
            providers[Int(id)]!.name = name
            let parentID = parent.map { providerID($0) } ?? -1
            if providers[Int(id)]!.parent != parentID {
                providers[Int(id)]!.parent = parentID
                let root = parentID >= 0 ? providers[Int(parentID)]?.root ?? id : id
                if root != providers[Int(id)]!.root {
                    providers[Int(id)]!.root = root
                    setRoot(root, below: id)
                }
            }
            providers[Int(id)]!.updated = now

        case .providerDeleted(let uuid):
            providers[Int(try existingProvider(uuid))] = nil

        case .inventoriesReplaced(let provider, let inventories):
            try replaceInventories(try existingProvider(provider), inventories, now: now)

        case .resourceClassCreated(let name):
            resourceClasses[name] = NamedRecord(name: name, created: now, updated: nil)
        case .resourceClassRenamed(let from, let to):
            rename(classID(from), classID(to))
            resourceClasses[to] = NamedRecord(name: to, created: resourceClasses[from]?.created ?? now, updated: now)
            if from != to { resourceClasses[from] = nil }
        case .resourceClassDeleted(let name):
            resourceClasses[name] = nil
        case .traitCreated(let name):
            traits[name] = NamedRecord(name: name, created: now, updated: nil)
        case .traitDeleted(let name):
            traits[name] = nil

        case .providerTraitsReplaced(let provider, let names):
            let id = try existingProvider(provider)
            providers[Int(id)]!.traits = names.sorted()
            providers[Int(id)]!.generation += 1
            providers[Int(id)]!.updated = now

        case .providerAggregatesReplaced(let provider, let aggregates, let bumps):
            let id = try existingProvider(provider)
            providers[Int(id)]!.aggregates = aggregates.sorted()
            if bumps { providers[Int(id)]!.generation += 1 }
            providers[Int(id)]!.updated = now

        case .allocationsReplaced(let cs):
            stage(cs)
            try replaceAllocations(bump: true, now: now)

        case .allocationsDeleted(let consumer):
            pending.append(NewAllocations(consumer: consumerID(consumer), project: -1, user: -1, type: -1,
                                          start: scratch.count, end: scratch.count))
            try replaceAllocations(bump: false, now: now)

        case .reshaped(let inventories, let cs):
            for (provider, inv) in inventories.sorted(by: { $0.key < $1.key }) {
                try replaceInventories(try existingProvider(provider), inv, now: now, extraBump: inv.isEmpty ? 0 : 1)
            }
            stage(cs)
            try replaceAllocations(bump: true, now: now)
        }
    }

    // MARK: ids

    /// The id of `key` in `interner`, with an empty place made in `table` for a new one.
    static func id<T>(_ key: UnsafeRawBufferPointer, _ interner: inout Interner, _ table: inout [T?]) -> Int32 {
        let id = interner.id(key)
        if Int(id) == table.count { table.append(nil) }
        return id
    }

    mutating func providerID(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        stagesOnly ? providerIDs.id(bytes) : Self.id(bytes, &providerIDs, &providers)
    }
    mutating func consumerID(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        stagesOnly ? consumerIDs.id(bytes) : Self.id(bytes, &consumerIDs, &consumers)
    }

    mutating func providerID(_ uuid: String) -> Int32 {
        var uuid = uuid
        return uuid.withUTF8 { Self.id(UnsafeRawBufferPointer($0), &providerIDs, &providers) }
    }

    mutating func consumerID(_ uuid: String) -> Int32 {
        var uuid = uuid
        return uuid.withUTF8 { Self.id(UnsafeRawBufferPointer($0), &consumerIDs, &consumers) }
    }

    func existingProvider(_ uuid: String) throws -> Int32 {
        guard let id = providerIDs.existing(uuid), providers[Int(id)] != nil else { throw FoldError.missing("provider \(uuid)") }
        return id
    }

    mutating func classID(_ name: String) -> Int32 { classIDs.id(name) }
    mutating func classID(_ bytes: UnsafeRawBufferPointer) -> Int32 { classIDs.id(bytes) }
    mutating func nameID(_ bytes: UnsafeRawBufferPointer) -> Int32 { nameIDs.id(bytes) }

    /// Usage records are keyed by (project, user, type); no type and the
    /// empty type share a record, as they share a key.
    mutating func usageID(project: Int32, user: Int32, type: Int32) -> Int {
        let t = type >= 0 ? type : noType
        var key = (project, user, t)
        let id = withUnsafeBytes(of: &key) { usageIDs.id(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }
        if Int(id) == usages.count { usages.append(nil) }
        return Int(id)
    }

    // MARK: the arithmetic of apply

    mutating func stage(consumer: Int32, project: Int32, user: Int32, type: Int32, start: Int) {
        pending.append(NewAllocations(consumer: consumer, project: project, user: user, type: type, start: start, end: scratch.count))
    }
    mutating func stage(_ amount: Amount) { scratch.append(amount) }
    mutating func unstage() {
        pending.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
    }
    var staged: Int { scratch.count }

    mutating func stage(_ cs: [ConsumerAllocations]) {
        for ca in cs {
            let start = scratch.count
            scratch += amounts(ca.allocations)
            pending.append(NewAllocations(consumer: consumerID(ca.consumer), project: nameIDs.id(ca.project), user: nameIDs.id(ca.user),
                                          type: ca.consumerType.map { nameIDs.id($0) } ?? -1, start: start, end: scratch.count))
        }
    }

    /// A consumer's allocations as amounts; a provider named with no resources is one amount of class -1.
    mutating func amounts(_ allocations: [String: [String: Int64]]) -> [Amount] {
        var out: [Amount] = []
        for (rp, resources) in allocations {
            let p = providerID(rp)
            if resources.isEmpty { out.append(Amount(provider: p, resourceClass: -1, amount: 0)) }
            for (rc, n) in resources { out.append(Amount(provider: p, resourceClass: classID(rc), amount: n)) }
        }
        return out
    }

    /// `replaceAllocations` of Apply.swift for the consumers in `pending`
    /// (those in `range` of it, when the pipelined fold hands over many events' consumers at once).
    mutating func replaceAllocations(bump: Bool, now: Micros, _ range: Range<Int>? = nil) throws {
        let event = count
        for k in range ?? pending.indices {
            let ca = pending[k]
            let c = Int(ca.consumer)
            let old = consumers[c].take()
            let clearing = ca.start == ca.end
            if let old {
                for a in old.amounts { try hold(a, sign: -1, now: now, bump: clearing && bump ? event : nil) }
                adjustUsage(old.usage, old.amounts[...], sign: -1)
            }
            if clearing { continue }
            let amounts = Array(scratch[ca.start..<ca.end])
            for a in amounts { try hold(a, sign: 1, now: now, bump: bump ? event : nil) }
            let usage = ca.usage >= 0 ? ca.usage : usageID(project: ca.project, user: ca.user, type: ca.type)
            consumers[c] = Consumer(project: ca.project, user: ca.user, type: ca.type, generation: (old?.generation ?? 0) + 1,
                                    amounts: amounts, created: old?.created ?? now, updated: now, usage: usage)
            adjustUsage(usage, amounts[...], sign: 1)
        }
    }

    /// `Provider.hold` on the provider an amount names, which must exist.
    mutating func hold(_ a: Amount, sign: Int64, now: Micros, bump: Int?) throws {
        // In place (`?.`), not a copy of the record read and written back.
        guard providers[Int(a.provider)]?.hold(a, sign: sign, now: now, bump: bump) != nil else {
            if internersAway { throw MissingProvider(id: a.provider) }
            throw FoldError.missing("provider \(providerIDs.string(a.provider))")
        }
    }

    mutating func adjustUsage(_ id: Int, _ amounts: ArraySlice<Amount>, sign: Int64) {
        var record = usages[id].take() ?? Usage(resources: [], consumers: 0)  // moved out: not shared while it changes
        record.consumers += sign
        for a in amounts where a.resourceClass >= 0 {
            let rc = Int(a.resourceClass)
            if record.resources.count <= rc { record.resources += repeatElement(0, count: rc + 1 - record.resources.count) }
            record.resources[rc] += sign * a.amount
        }
        if record.consumers != 0 { usages[id] = record }
    }

    mutating func replaceInventories(_ id: Int32, _ inventories: [String: InventoryRecord], now: Micros, extraBump: Int64 = 0) throws {
        let p = Int(id)
        var next: [Int32: InventoryRecord] = [:]
        for (rc, var inv) in inventories {
            let c = classID(rc)
            if let old = providers[p]!.inventories[c], old.sameSettings(as: inv) {
                inv.updated = old.updated
            } else {
                inv.updated = now
            }
            next[c] = inv
        }
        providers[p]!.inventories = next
        providers[p]!.generation += 1 + extraBump
        providers[p]!.updated = now
    }

    mutating func setRoot(_ root: Int32, below id: Int32) {
        for child in providers.indices where providers[child]?.parent == id {
            providers[child]!.root = root
            setRoot(root, below: Int32(child))
        }
    }

    /// A custom class renamed (before 1.7): its inventories and usages on
    /// the providers with inventory of it, the allocations of those
    /// providers' consumers, and every usages record, as `renameClass` does.
    mutating func rename(_ from: Int32, _ to: Int32) {
        guard from != to else { return }
        func moved(_ usages: inout [Int64], absent: Int64) {
            let f = Int(from), t = Int(to)
            guard usages.count > f, usages[f] != absent else { return }
            if usages.count <= t { usages += repeatElement(absent, count: t + 1 - usages.count) }
            usages[t] = usages[f]
            usages[f] = absent
        }
        var holders = Set<Int32>()
        for p in providers.indices where providers[p]?.inventories[from] != nil {
            holders.insert(Int32(p))
            providers[p]!.inventories[to] = providers[p]!.inventories.removeValue(forKey: from)
            moved(&providers[p]!.usages, absent: Self.absent)
        }
        for c in consumers.indices {
            guard let amounts = consumers[c]?.amounts, amounts.contains(where: { holders.contains($0.provider) }) else { continue }
            // Per provider, the class's amount replaces any amount of the new name.
            let renamedOn = Set(amounts.filter { $0.resourceClass == from }.map(\.provider))
            consumers[c]!.amounts = amounts.compactMap { a in
                if a.resourceClass == to && renamedOn.contains(a.provider) { return nil }
                var a = a
                if a.resourceClass == from { a.resourceClass = to }
                return a
            }
        }
        for u in usages.indices where usages[u] != nil { moved(&usages[u]!.resources, absent: 0) }
    }

    // MARK: the result

    /// One stored record: key and value bytes, as LMDB holds them.
    public typealias Record = (key: [UInt8], value: [UInt8])

    /// The views this fold makes: every table's records in their stored
    /// form (by `Table.ordinal`), each table sorted by key bytes, LMDB's
    /// order, so `verify` can walk it beside the stored table.
    public func storedTables() -> [[Record]] {
        var out = [[Record]](repeating: [], count: Table.allCases.count)
        func put(_ t: Table, _ key: String, _ value: [UInt8] = []) { out[t.ordinal].append((Array(key.utf8), value)) }
        let order = ClassOrder(classIDs)
        var serializer = self  // the record serializers are `mutating` (see `providerBytes`)
        for i in providers.indices {
            guard let r = providerRecord(Int32(i)) else { continue }
            put(.providers, r.uuid, serializer.providerBytes(Int32(i), lead: nil, order: order))
            put(.providerNames, KeyPart.of(r.name), Array(r.uuid.utf8))
            if let parent = r.parent { put(.providerChildren, parent + keySep + r.uuid) }
            for rc in r.inventories.keys { put(.classProviders, rc + keySep + r.uuid) }
            for t in Set(r.traits) { put(.traitProviders, t + keySep + r.uuid) }
            for a in Set(r.aggregates) { put(.aggregates, a + keySep + r.uuid) }
        }
        for (i, c) in consumers.enumerated() {
            guard let c else { continue }
            let uuid = consumerIDs.bytes(Int32(i))
            var held: [Int32] = []
            for a in c.amounts where !held.contains(a.provider) {
                held.append(a.provider)
                out[Table.providerConsumers.ordinal].append((providerIDs.bytes(a.provider) + [0] + uuid, []))
            }
            out[Table.consumers.ordinal].append((uuid, serializer.consumerBytes(Int32(i), lead: nil, order: order)))
        }
        for (i, u) in usages.enumerated() where u != nil { put(.usages, usageKey(i), serializer.usageBytes(i, lead: nil, order: order)) }
        for (name, r) in resourceClasses { put(.resourceClasses, name, r.storedBytes) }
        for (name, r) in traits { put(.traits, name, r.storedBytes) }
        for t in out.indices {
            out[t].sort { a, b in b.key.withUnsafeBytes { InternedFold.byteOrder(a.key, $0) < 0 } }
            // A key made twice (which a sound log never does) is one record, as in a table.
            if zip(out[t], out[t].dropFirst()).contains(where: { $0.key == $1.key }) {
                out[t] = out[t].enumerated().filter { n, r in n == 0 || out[t][n - 1].key != r.key }.map(\.element)
            }
        }
        return out
    }

    /// Provider `id`'s record, as `apply` would hold it.
    func providerRecord(_ id: Int32) -> ProviderRecord? {
        guard let p = providers[Int(id)] else { return nil }
        func uuid(_ p: Int32) -> String { providerIDs.string(p) }
        var inventories: [String: InventoryRecord] = [:]
        for (c, inv) in p.inventories { inventories[classIDs.string(c)] = inv }
        var used: [String: Int64] = [:]
        for (c, n) in p.usages.enumerated() where n != Self.absent { used[classIDs.string(Int32(c))] = n }
        return ProviderRecord(
            uuid: uuid(id), name: p.name, generation: p.generation, parent: p.parent >= 0 ? uuid(p.parent) : nil, root: uuid(p.root),
            inventories: inventories, usages: used, traits: p.traits, aggregates: p.aggregates, created: p.created, updated: p.updated)
    }

    /// Consumer `id`'s record.
    func consumerRecord(_ id: Int32) -> ConsumerRecord? {
        guard let c = consumers[Int(id)] else { return nil }
        var allocations: [String: [String: Int64]] = [:]
        for a in c.amounts {
            let rp = providerIDs.string(a.provider)
            if a.resourceClass >= 0 { allocations[rp, default: [:]][classIDs.string(a.resourceClass)] = a.amount }
            else if allocations[rp] == nil { allocations[rp] = [:] }
        }
        return ConsumerRecord(
            uuid: consumerIDs.string(id), project: nameIDs.string(c.project), user: nameIDs.string(c.user),
            consumerType: c.type >= 0 ? nameIDs.string(c.type) : nil, generation: c.generation, allocations: allocations,
            created: c.created, updated: c.updated)
    }

    /// The usages record `id`.
    func usageRecord(_ id: Int) -> UsageRecord? {
        guard let u = usages[id] else { return nil }
        var resources: [String: Int64] = [:]
        for (c, n) in u.resources.enumerated() where n != 0 { resources[classIDs.string(Int32(c))] = n }
        return UsageRecord(resources: resources, consumers: u.consumers)
    }

    /// The usages key of record `id`: project, user and consumer type.
    func usageKey(_ id: Int) -> String {
        let key = usageIDs.bytes(Int32(id)).withUnsafeBytes { b in
            (0..<3).map { nameIDs.string(b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        }
        return KeyPart.of(key[0]) + keySep + KeyPart.of(key[1]) + keySep + key[2]
    }

    /// LMDB's default key order: bytes compared as unsigned, a prefix first.
    public static func byteOrder(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Int {
        let n = min(x.count, y.count)
        let c = n == 0 ? 0 : Int(memcmp(x.baseAddress!, y.baseAddress!, n))
        return c != 0 ? c : x.count - y.count
    }

    public static func byteOrder(_ a: [UInt8], _ y: UnsafeRawBufferPointer) -> Int {
        a.withUnsafeBytes { byteOrder($0, y) }
    }

    /// The same views in the in-memory store.
    public func views() -> MemoryViewStore {
        let out = MemoryViewStore()
        for (t, records) in zip(Table.allCases, storedTables()) {
            for r in records { try! out.put(t, String(decoding: r.key, as: UTF8.self), r.value) }
        }
        return out
    }
}

/// Reads an `AllocationsReplaced` or `AllocationsDeleted` event in the form
/// `EventCodec` writes it (sorted keys, no escapes, no whitespace) straight
/// into a fold's ids. Anything else, or anything it is unsure of, it leaves
/// to `Event.decoded`, which reads every form and names what is wrong.
struct StoredAllocationReader {
    private let b: UnsafeRawBufferPointer
    private var i = 0
    /// Whether the event bumps generations (a replace does, a delete does not).
    private(set) var bumps = true

    init(_ bytes: UnsafeRawBufferPointer) { b = bytes }

    /// Stages the event's consumers in `fold` and returns its time, or nil
    /// when the event is not one this reader takes.
    mutating func read(into fold: inout InternedFold) -> Micros? {
        // {"actor":{…},"microversion":"…","payload":{…},"request_id":"…","seq":N,"time":N,"type":"…","version":1}
        guard take("{\"actor\":{"), skipActor(), take(",\"microversion\":"), string() != nil,
              take(",\"payload\":") else { return nil }
        // The payload comes before the type: its first key tells which of the two it can be.
        let type: StaticString
        if take("{\"consumers\":[") {
            guard consumers(into: &fold), take("]}") else { return nil }
            type = "AllocationsReplaced"
        } else if take("{\"consumer_uuid\":") {
            guard let c = string(), take("}") else { return nil }
            bumps = false
            fold.stage(consumer: fold.consumerID(c), project: -1, user: -1, type: -1, start: fold.staged)
            type = "AllocationsDeleted"
        } else {
            return nil
        }
        guard take(",\"request_id\":"), string() != nil, take(",\"seq\":"), int() != nil,
              take(",\"time\":"), let time = int(), take(",\"type\":\""), take(type), take("\",\"version\":1}"),
              i == b.count else { return nil }
        return time
    }

    /// Each `{"allocations":{…},"consumer_type":…,"consumer_uuid":…,"project_id":…,"user_id":…}`
    /// (no consumer_type for none), in that order.
    private mutating func consumers(into fold: inout InternedFold) -> Bool {
        repeat {
            let start = fold.staged
            guard take("{\"allocations\":{") else { return false }
            if !take("}") {
                repeat {
                    guard let rp = string(), take(":{") else { return false }
                    let p = fold.providerID(rp)
                    for s in start..<fold.staged where fold.scratchProvider(s) == p { return false }  // a repeated key
                    let first = fold.staged
                    if !take("}") {
                        repeat {
                            guard let rc = string(), take(":"), let n = int() else { return false }
                            let c = fold.classID(rc)
                            for s in first..<fold.staged where fold.scratchClass(s) == c { return false }
                            fold.stage(.init(provider: p, resourceClass: c, amount: n))
                        } while take(",")
                        guard take("}") else { return false }
                    } else {
                        fold.stage(.init(provider: p, resourceClass: -1, amount: 0))
                    }
                } while take(",")
                guard take("}") else { return false }
            }
            var type: Int32 = -1
            if take(",\"consumer_type\":") {
                guard let t = string() else { return false }
                type = fold.nameID(t)
            }
            guard take(",\"consumer_uuid\":"), let c = string(), take(",\"project_id\":"), let project = string(),
                  take(",\"user_id\":"), let user = string(), take("}") else { return false }
            fold.stage(consumer: fold.consumerID(c), project: fold.nameID(project), user: fold.nameID(user), type: type, start: start)
        } while take(",")
        return true
    }

    /// Consumes `literal` if it comes next.
    private mutating func take(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard b.count - i >= n else { return false }
        let l = UnsafeRawPointer(literal.utf8Start)
        var k = 0
        while k + 8 <= n {
            if b.loadUnaligned(fromByteOffset: i + k, as: UInt64.self) != l.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < n {
            if b[i + k] != l.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        i += n
        return true
    }

    /// A string without escapes or bytes beyond ASCII, as its bytes.
    private mutating func string() -> UnsafeRawBufferPointer? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var j = start
        // Eight bytes at a time while none is a quote, a backslash, a control byte or beyond ASCII.
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        while j + 8 <= b.count {
            let w = b.loadUnaligned(fromByteOffset: j, as: UInt64.self)
            let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | (w &- ones &* 0x20) | w
            if special & high != 0 { break }
            j += 8
        }
        while j < b.count {
            let c = b[j]
            if c == UInt8(ascii: "\"") {
                i = j + 1
                return UnsafeRawBufferPointer(rebasing: b[start..<j])
            }
            if c == UInt8(ascii: "\\") || c >= 0x80 || c < 0x20 { return nil }
            j += 1
        }
        return nil
    }

    private mutating func int() -> Int64? {
        var negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var v: Int64 = 0
        let start = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39, i - start < 18 {
            v = v * 10 + Int64(b[i] - 0x30)
            i += 1
        }
        guard i > start, i == b.count || !(b[i] >= 0x30 && b[i] <= 0x39 || b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e")
                                            || b[i] == UInt8(ascii: "E")) else { return nil }
        return negative ? -v : v
    }

    /// `{"project":…,"user":…}` or `{"user":…}`, after its opening brace.
    private mutating func skipActor() -> Bool {
        if take("\"project\":") {
            guard take("null") || string() != nil, take(",") else { return false }
        }
        return take("\"user\":") && string() != nil && take("}")
    }
}

extension InternedFold {
    fileprivate func scratchProvider(_ s: Int) -> Int32 { scratch[s].provider }
    fileprivate func scratchClass(_ s: Int) -> Int32 { scratch[s].resourceClass }
}
