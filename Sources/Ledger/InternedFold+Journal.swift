/// `replay` with `InternedFold`: besides the views, a replayed data dir holds
/// the undo log (each record's value before every event that changed it) and
/// the event index, exactly as the live projector writes them
/// (`RecordingViewStore`, `LedgerStore.indexEntries`). With a journal, the
/// fold records both as it goes.
///
/// - Allocation events read fast are journaled here, from what
///   `replaceAllocations` of Apply.swift writes: the consumer's record, its
///   provider links, the usages records of its old and new project and
///   user, and every provider it held or holds. The first write of a record
///   in an event stores the record's value before the event, as in the live
///   store; a provider whose record comes out the same is not written.
/// - Every other event is folded by `apply` itself, over `JournalViews`: the
///   fold's state seen as the stored tables, with the event's writes kept
///   aside, recorded, and then taken back into the fold's state.
///
/// A test replays random logs both ways and compares every database byte for byte.
public struct FoldJournal {
    /// An undo entry: the record (table, and key id in that table's key
    /// space) and its value before event `seq`: 1 and its bytes, or 0 when
    /// absent, at `values[start..<end]`.
    struct Undo {
        var table: UInt8
        var key: Int32
        var seq: UInt64
        var start: Int
        var end: Int
    }
    var undo: [Undo] = []
    /// Every undo value, one after another. An array each cost an allocation,
    /// a header, and the writer's reserve (256 bytes for any provider); in the
    /// write phase each was retained again, to be grouped by record.
    var values: [UInt8] = []
    /// One event index entry: kind (`indexKinds`), id in that kind's key space, event.
    struct Entry: Hashable {
        var kind: UInt8
        var id: Int32
    }
    var index: [(entry: Entry, seq: UInt64)] = []
    /// The provider links' undo entries in log order, each link's provider and
    /// consumer ids and whether it was there before the event: `linkVersions`
    /// is keyed by event first, so they need no key ids of their own (interning
    /// every link ever made filled a hash table whose probes missed the cache).
    struct LinkUndo {
        var seq: UInt64
        var provider: Int32
        var consumer: Int32
        var present: Bool
    }
    var links: [LinkUndo] = []
    /// Key spaces of the tables whose keys are not fold ids (by table ordinal).
    var keys = [Interner](repeating: Interner(), count: Table.allCases.count)
    var typeIDs = Interner()

    /// The event being folded, where its undo entries and link entries start, and its index entries so far.
    var seq: UInt64 = 0
    var eventStart = 0
    var eventLinks = 0
    var entries: [Entry] = []
    /// Providers an allocation event touched, with their undo value (1 and their bytes before it).
    var snapshots: [(provider: Int32, bytes: [UInt8])] = []
    /// Each provider's undo value as of now (1 and its bytes), when known: what the
    /// next event that changes it stores. Dropped when `apply` writes the record.
    var providerUndo: [[UInt8]?] = []
    /// Providers by stored name (`KeyPart.of`), for `JournalViews`: names change only in events `apply` folds.
    var names: [String: Int32] = [:]
    /// The type ids of the two allocation events.
    var replacedType: Int32 = 0, deletedType: Int32 = 0

    public init() {
        replacedType = typeIDs.id("AllocationsReplaced")
        deletedType = typeIDs.id("AllocationsDeleted")
    }

    /// Names of the index kinds, by `Entry.kind`: `IndexEntry.Kind`'s raw values.
    public static let indexKinds = ["consumer", "provider", "project", "user", "class", "type"]
    static let consumerKind: UInt8 = 0, providerKind: UInt8 = 1, projectKind: UInt8 = 2, userKind: UInt8 = 3
    static let classKind: UInt8 = 4, typeKind: UInt8 = 5

    mutating func begin(_ seq: UInt64) {
        self.seq = seq
        eventStart = undo.count
        eventLinks = links.count
        entries.removeAll(keepingCapacity: true)
        snapshots.removeAll(keepingCapacity: true)
    }

    func remembered(_ table: Table, _ key: Int32) -> Bool {
        let t = UInt8(table.ordinal)
        var i = eventStart
        while i < undo.count {
            if undo[i].key == key && undo[i].table == t { return true }
            i += 1
        }
        return false
    }

    /// Records `table`/`key`'s value before this event, unless this event already did.
    mutating func remember(_ table: Table, _ key: Int32, _ value: [UInt8]) {
        if remembered(table, key) { return }
        let start = values.count
        values.append(contentsOf: value)
        undo.append(Undo(table: UInt8(table.ordinal), key: key, seq: seq, start: start, end: values.count))
    }

    mutating func add(_ kind: UInt8, _ id: Int32) {
        let e = Entry(kind: kind, id: id)
        if !entries.contains(e) { entries.append(e) }
    }

    /// Where the journal's growing arrays are: each one's first byte, the bytes
    /// in use, the bytes reserved (for `PipelinedFold`, which faults their pages
    /// in ahead of the worker).
    func regions() -> [(start: UInt, used: Int, reserved: Int)] {
        func region<T>(_ a: [T]) -> (start: UInt, used: Int, reserved: Int) {
            let start = a.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
            return (start, a.count * MemoryLayout<T>.stride, a.capacity * MemoryLayout<T>.stride)
        }
        return [region(undo), region(values), region(index), region(links)]
    }

    /// Records whether link (provider `p`, consumer `c`) was there before this event, unless this event already did.
    mutating func rememberLink(_ p: Int32, _ c: Int32, present: Bool) {
        var i = eventLinks
        while i < links.count {
            if links[i].provider == p && links[i].consumer == c { return }
            i += 1
        }
        links.append(LinkUndo(seq: seq, provider: p, consumer: c, present: present))
    }
}

extension InternedFold {
    /// Starts a journal: from now on every event folded is journaled
    /// (`PipelinedFold`, journaled, calls `foldJournaled`).
    /// `events`: how many will be, if known. Its arrays are sized for them at
    /// once: growing them by doubling copied them over and over and faulted
    /// in fresh pages each time (in one profile, page faults were 47% of the folding thread).
    public mutating func startJournal(events: Int = 0) {
        journal = FoldJournal()
        guard events > 0 else { return }
        journal!.undo.reserveCapacity(events * 6)
        journal!.values.reserveCapacity(events * 640)
        journal!.index.reserveCapacity(events * 10)
        journal!.links.reserveCapacity(events * 2)
    }

    /// Folds and journals the allocation event whose consumers are `pending[range]`.
    mutating func foldJournaled(seq: UInt64, time: Micros, bumps: Bool, _ range: Range<Int>) throws {
        count += 1
        readFast += 1
        journal!.begin(seq)
        journalAllocations(type: bumps ? journal!.replacedType : journal!.deletedType, range)
        try replaceAllocations(bump: bumps, now: time, range)
        journalProviders()
        endJournaledEvent()
    }

    /// Decodes, folds and journals an event the fast reader did not take
    /// (dropping whatever it staged). Returns the event's time.
    mutating func foldJournaled(seq: UInt64, decoding raw: UnsafeRawBufferPointer,
                                index: (Event, Views) throws -> [(kind: String, id: String)]) throws -> Micros {
        count += 1
        unstage()
        journal!.begin(seq)
        let event = try Event.decoded(raw)
        try applyThroughViews(event, index: index)
        endJournaledEvent()
        return event.time
    }

    // MARK: allocation events

    /// Before `replaceAllocations` changes anything: the index entries
    /// (`indexEntries` of LedgerStore, from the state before the event) and
    /// the value before the event of every record it will write.
    private mutating func journalAllocations(type: Int32, _ range: Range<Int>) {
        if journalClassOrder.count != classIDs.count { journalClassOrder = ClassOrder(classIDs) }
        journal!.add(FoldJournal.typeKind, type)
        for ca in pending[range] {
            let c = ca.consumer
            if ca.project >= 0 {  // replaced, not deleted
                for a in scratch[ca.start..<ca.end] {
                    journal!.add(FoldJournal.providerKind, a.provider)
                    if a.resourceClass >= 0 { journal!.add(FoldJournal.classKind, a.resourceClass) }
                }
                journal!.add(FoldJournal.projectKind, ca.project)
                journal!.add(FoldJournal.userKind, ca.user)
            }
            journal!.add(FoldJournal.consumerKind, c)
            if let old = consumers[Int(c)] {
                journal!.add(FoldJournal.projectKind, old.project)
                journal!.add(FoldJournal.userKind, old.user)
                for a in old.amounts {
                    journal!.add(FoldJournal.providerKind, a.provider)
                    if a.resourceClass >= 0 { journal!.add(FoldJournal.classKind, a.resourceClass) }
                }
            }
        }
        // The writes, consumer by consumer, in `replaceAllocations`' order; a record
        // an earlier consumer of the event wrote already holds its entry.
        for k in range {
            let ca = pending[k]
            let c = ca.consumer
            if let old = consumers[Int(c)] {
                let before = consumerBytes(c, lead: 1, order: journalClassOrder)
                journal!.remember(.consumers, c, before)
                for a in old.amounts {
                    journal!.rememberLink(a.provider, c, present: true)
                    snapshot(a.provider)
                }
                rememberUsage(old.usage)
            }
            if ca.start == ca.end { continue }
            for a in scratch[ca.start..<ca.end] {
                // Its old links were remembered (present) above: any other is absent before the event.
                journal!.rememberLink(a.provider, c, present: false)
                snapshot(a.provider)
            }
            if consumers[Int(c)] == nil { journal!.remember(.consumers, c, [0]) }
            let usage = usageID(project: ca.project, user: ca.user, type: ca.type)
            pending[k].usage = usage
            rememberUsage(usage)
        }
    }

    private mutating func rememberUsage(_ u: Int) {
        let before = usages[u] == nil ? [0] : usageBytes(u, lead: 1, order: journalClassOrder)
        journal!.remember(.usages, Int32(u), before)
    }

    private mutating func snapshot(_ p: Int32) {
        guard hasProvider(p), !journal!.snapshots.contains(where: { $0.provider == p }) else { return }
        if journal!.providerUndo.count <= Int(p) { journal!.providerUndo += repeatElement(nil, count: Int(p) + 1 - journal!.providerUndo.count) }
        let before = journal!.providerUndo[Int(p)] ?? journaledProviderBytes(p)
        journal!.snapshots.append((p, before))
    }

    /// Whether provider `p` exists: through the buffer, which lends the element
    /// (`providers[p] != nil` copied the record out, retaining its arrays).
    private func hasProvider(_ p: Int32) -> Bool { providers.withUnsafeBufferPointer { $0[Int(p)] != nil } }

    /// After `replaceAllocations`: each provider whose record changed holds its value before.
    private mutating func journalProviders() {
        for (p, before) in journal!.snapshots {
            guard hasProvider(p) else { continue }
            let after = journaledProviderBytes(p)
            journal!.providerUndo[Int(p)] = after
            if after != before { journal!.remember(.providers, p, before) }
        }
    }

    /// The event's index entries go in, but for a provider or consumer whose
    /// record it changed (found through that record's undo entry, as `writeIndex` does).
    private mutating func endJournaledEvent() {
        for e in journal!.entries {
            let record: Table? = switch e.kind {
            case FoldJournal.providerKind: providerIDs.length(e.id) <= KeyPart.limit ? .providers : nil
            case FoldJournal.consumerKind: consumerIDs.length(e.id) <= KeyPart.limit ? .consumers : nil
            default: nil
            }
            if let record, journal!.remembered(record, e.id) { continue }
            journal!.index.append((e, journal!.seq))
        }
    }

    // MARK: stored bytes of the fold's records, as `storedBytes` writes them

    /// The stored bytes of provider `id`, after `lead` if given, classes in `order`.
    ///
    /// The serializers are `mutating` so that the journal, which calls them
    /// from mutating code for every allocation event, passes the fold by
    /// address (a non-mutating call from there copied the whole fold, some
    /// twenty retains and releases), and they hand the record to a static
    /// writer that borrows it through the array's buffer: a copy of the
    /// record out of its array (`let`, or an argument `providers[id]!`)
    /// retained and released each of its arrays and strings.
    mutating func providerBytes(_ id: Int32, lead: UInt8?, order: ClassOrder) -> [UInt8] {
        var w = RecordWriter(capacity: 256, lead: lead)
        providers.withUnsafeBufferPointer { ps in
            Self.write(provider: ps[Int(id)]!, Self.pieces(of: ps[Int(id)]!, id, providerIDs, classIDs, order), classIDs, order, to: &w)
        }
        return w.bytes
    }

    /// `providerBytes` for the journal (lead 1, `journalClassOrder`), from the
    /// record's pieces kept since it was last written by an event `apply` folds.
    /// An allocation changes only a provider's generation, usages and update
    /// time; writing the rest anew was most of what serializing cost.
    mutating func journaledProviderBytes(_ id: Int32) -> [UInt8] {
        let i = Int(id)
        if providerPieces.count <= i { providerPieces += repeatElement(nil, count: i + 1 - providerPieces.count) }
        var w = RecordWriter(capacity: 256, lead: 1)
        providers.withUnsafeBufferPointer { ps in
            // Through the buffer: `providerPieces[i] == nil` copied the pieces out (three retains and releases).
            if providerPieces.withUnsafeBufferPointer({ $0[i] == nil }) {
                providerPieces[i] = Self.pieces(of: ps[i]!, id, providerIDs, classIDs, journalClassOrder)
            }
            providerPieces.withUnsafeBufferPointer { Self.write(provider: ps[i]!, $0[i]!, classIDs, journalClassOrder, to: &w) }
        }
        return w.bytes
    }

    /// The parts of a provider's stored bytes between those an allocation changes.
    struct ProviderPieces {
        /// uuid and name; parent, root and inventories; traits, aggregates and creation time.
        var head: [UInt8], middle: [UInt8], tail: [UInt8]
    }

    private static func pieces(of p: Provider, _ id: Int32, _ providerIDs: Interner,
                               _ classIDs: Interner, _ order: ClassOrder) -> ProviderPieces {
        var head = RecordWriter(bare: 64), middle = RecordWriter(bare: 128), tail = RecordWriter(bare: 64)
        providerIDs.write(id, to: &head)
        head.string(p.name)
        if p.parent >= 0 {
            middle.bytes.append(1)
            providerIDs.write(p.parent, to: &middle)
        } else {
            middle.bytes.append(0)
        }
        providerIDs.write(p.root, to: &middle)
        middle.uint(UInt64(p.inventories.count))
        if p.inventories.count == 1 {
            let (c, inv) = p.inventories.first!
            classIDs.write(c, to: &middle)
            inv.write(to: &middle)
        } else if !p.inventories.isEmpty {
            for c in p.inventories.keys.sorted(by: { order.rank[Int($0)] < order.rank[Int($1)] }) {
                classIDs.write(c, to: &middle)
                p.inventories[c]!.write(to: &middle)
            }
        }
        tail.strings(p.traits)
        tail.strings(p.aggregates)
        tail.int(p.created)
        return ProviderPieces(head: head.bytes, middle: middle.bytes, tail: tail.bytes)
    }

    private static func write(provider p: Provider, _ pieces: ProviderPieces, _ classIDs: Interner,
                              _ order: ClassOrder, to w: inout RecordWriter) {
        w.bytes.append(contentsOf: pieces.head)
        w.int(p.generation)
        w.bytes.append(contentsOf: pieces.middle)
        writeCounts(p.usages, absent: Self.absent, classIDs, order, to: &w)
        w.bytes.append(contentsOf: pieces.tail)
        w.int(p.updated)
    }

    mutating func consumerBytes(_ id: Int32, lead: UInt8?, order: ClassOrder) -> [UInt8] {
        var w = RecordWriter(capacity: 160, lead: lead)
        consumers.withUnsafeBufferPointer {
            Self.write(consumer: $0[Int(id)]!, id, consumerIDs, providerIDs, classIDs, nameIDs, order, to: &w)
        }
        return w.bytes
    }

    private static func write(consumer c: Consumer, _ id: Int32, _ consumerIDs: Interner,
                              _ providerIDs: Interner, _ classIDs: Interner,
                              _ nameIDs: Interner, _ order: ClassOrder, to w: inout RecordWriter) {
        consumerIDs.write(id, to: &w)
        nameIDs.write(c.project, to: &w)
        nameIDs.write(c.user, to: &w)
        if c.type >= 0 {
            w.bytes.append(1)
            nameIDs.write(c.type, to: &w)
        } else {
            w.bytes.append(0)
        }
        w.int(c.generation)
        var held: [Int32] = []
        for a in c.amounts where !held.contains(a.provider) { held.append(a.provider) }
        if held.count > 1 { held.sort { providerIDs.string($0) < providerIDs.string($1) } }
        w.uint(UInt64(held.count))
        for p in held {
            providerIDs.write(p, to: &w)
            var amounts = c.amounts.filter { $0.provider == p && $0.resourceClass >= 0 }
            if amounts.count > 1 { amounts.sort { order.rank[Int($0.resourceClass)] < order.rank[Int($1.resourceClass)] } }
            w.uint(UInt64(amounts.count))
            for a in amounts {
                classIDs.write(a.resourceClass, to: &w)
                w.int(a.amount)
            }
        }
        w.int(c.created)
        w.int(c.updated)
    }

    mutating func usageBytes(_ id: Int, lead: UInt8?, order: ClassOrder) -> [UInt8] {
        var w = RecordWriter(capacity: 64, lead: lead)
        usages.withUnsafeBufferPointer { Self.write(usage: $0[id]!, classIDs, order, to: &w) }
        return w.bytes
    }

    private static func write(usage u: Usage, _ classIDs: Interner, _ order: ClassOrder,
                              to w: inout RecordWriter) {
        writeCounts(u.resources, absent: 0, classIDs, order, to: &w)
        w.int(u.consumers)
    }

    /// Amounts by class id, as `RecordWriter.counts` writes them by class name:
    /// those not `absent`, in name order (two passes over `order`, no array).
    private static func writeCounts(_ amounts: [Int64], absent: Int64, _ classIDs: Interner,
                                    _ order: ClassOrder, to w: inout RecordWriter) {
        precondition(amounts.count <= order.count, "a class id past the class order")
        var held = 0
        for n in amounts where n != absent { held += 1 }
        w.uint(UInt64(held))
        if held == 0 { return }
        for c in order.byRank where Int(c) < amounts.count && amounts[Int(c)] != absent {
            classIDs.write(c, to: &w)
            w.int(amounts[Int(c)])
        }
    }
}

/// Class ids in the order `sorted()` gives their names: `rank[id]` is an id's
/// place, `byRank[place]` the id there. The records list classes by name.
struct ClassOrder {
    var rank: [Int32] = []
    var byRank: [Int32] = []
    var count: Int { rank.count }

    init() {}

    init(_ interner: Interner) {
        let names = (0..<interner.count).map { interner.string(Int32($0)) }
        byRank = names.indices.sorted { names[$0] < names[$1] }.map { Int32($0) }
        rank = [Int32](repeating: 0, count: names.count)
        for (r, i) in byRank.enumerated() { rank[Int(i)] = Int32(r) }
    }
}

extension Interner {
    /// Writes key `id` as a record string (length, bytes).
    func write(_ id: Int32, to w: inout RecordWriter) {
        let (start, end) = (starts[Int(id)], starts[Int(id) + 1])
        w.uint(UInt64(end - start))
        arena.withUnsafeBufferPointer { w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }

    /// The length of key `id`.
    func length(_ id: Int32) -> Int { starts[Int(id) + 1] - starts[Int(id)] }
}

// MARK: every other event, through `apply`

extension InternedFold {
    /// Folds `event` with `apply` over `JournalViews`, records its undo
    /// entries and index entries, and takes its writes back into the state.
    mutating func applyThroughViews(_ event: Event, index: (Event, Views) throws -> [(kind: String, id: String)]) throws {
        providerPieces.removeAll(keepingCapacity: true)
        // Usage records the event may create need ids before the views map keys to them.
        var consumersNamed: [ConsumerAllocations] = []
        switch event.payload {
        case .allocationsReplaced(let cs), .reshaped(_, let cs): consumersNamed = cs
        default: break
        }
        for ca in consumersNamed {
            _ = usageID(project: nameIDs.id(ca.project), user: nameIDs.id(ca.user), type: ca.consumerType.map { nameIDs.id($0) } ?? -1)
        }
        let entries: [(kind: String, id: String)]
        let written: [[String: [UInt8]?]]
        let undo: [(table: Table, key: String, value: [UInt8])]
        let usageKeys: [String: Int]
        do {
            // The views hold a copy of this fold; it must be gone before the fold changes (or every array is copied).
            let views = JournalViews(self)
            entries = try index(event, Views(views))
            try Ledger.apply(event, to: Views(views))
            (written, undo) = (views.written, views.undo)
            let usagesTouched = !written[Table.usages.ordinal].isEmpty || undo.contains { $0.table == .usages }
            usageKeys = usagesTouched ? views.usageKeys : [:]
        }
        for (table, key, value) in undo {
            let id: Int32
            switch table {
            case .providers: id = providerID(key)
            case .consumers: id = consumerID(key)
            case .usages:
                guard let u = usageKeys[key] else { throw FoldError.missing("usages record \(key)") }
                id = Int32(u)
            case .providerConsumers:
                let (p, c) = JournalViews.split(key)
                journal!.rememberLink(providerID(p), consumerID(c), present: value.first == 1)
                continue
            default:
                var k = key
                id = k.withUTF8 { journal!.keys[table.ordinal].id(UnsafeRawBufferPointer($0)) }
            }
            journal!.remember(table, id, value)
        }
        for (kind, id) in entries {
            guard let k = FoldJournal.indexKinds.firstIndex(of: kind) else { continue }
            let n: Int32 = switch UInt8(k) {
            case FoldJournal.consumerKind: consumerID(id)
            case FoldJournal.providerKind: providerID(id)
            case FoldJournal.projectKind, FoldJournal.userKind: nameIDs.id(id)
            case FoldJournal.classKind: classIDs.id(id)
            default: journal!.typeIDs.id(id)
            }
            journal!.add(UInt8(k), n)
        }
        try take(written, usageKeys: usageKeys)
    }

    /// The records `apply` wrote, into the state (the index tables follow from it).
    private mutating func take(_ written: [[String: [UInt8]?]], usageKeys: [String: Int]) throws {
        for (uuid, value) in written[Table.providers.ordinal] {
            let id = Int(providerID(uuid))
            if id < journal!.providerUndo.count { journal!.providerUndo[id] = nil }
            if let old = providers[id], journal!.names[KeyPart.of(old.name)] == Int32(id) { journal!.names[KeyPart.of(old.name)] = nil }
            guard let value else {
                providers[id] = nil
                continue
            }
            let r = try ProviderRecord(stored: value)
            journal!.names[KeyPart.of(r.name)] = Int32(id)
            var inventories: [Int32: InventoryRecord] = [:]
            for (rc, inv) in r.inventories { inventories[classID(rc)] = inv }
            providers[id] = Provider(
                name: r.name, generation: r.generation, parent: r.parent.map { providerID($0) } ?? -1, root: providerID(r.root),
                inventories: inventories, usages: byClass(r.usages, absent: Self.absent), traits: r.traits, aggregates: r.aggregates, created: r.created,
                updated: r.updated, bumpedBy: providers[id]?.bumpedBy ?? 0)
        }
        for (uuid, value) in written[Table.consumers.ordinal] {
            let id = Int(consumerID(uuid))
            guard let value else {
                consumers[id] = nil
                continue
            }
            let r = try ConsumerRecord(stored: value)
            let amounts = amounts(r.allocations)
            let (project, user, type) = (nameIDs.id(r.project), nameIDs.id(r.user), r.consumerType.map { nameIDs.id($0) } ?? -1)
            consumers[id] = Consumer(
                project: project, user: user, type: type, generation: r.generation, amounts: amounts, created: r.created,
                updated: r.updated, usage: usageID(project: project, user: user, type: type))
        }
        for (key, value) in written[Table.usages.ordinal] {
            guard let u = usageKeys[key] else { throw FoldError.missing("usages record \(key)") }
            guard let value else {
                usages[u] = nil
                continue
            }
            let r = try UsageRecord(stored: value)
            usages[u] = Usage(resources: byClass(r.resources, absent: 0), consumers: r.consumers)
        }
        for (name, value) in written[Table.resourceClasses.ordinal] { resourceClasses[name] = try value.map { try NamedRecord(stored: $0) } }
        for (name, value) in written[Table.traits.ordinal] { traits[name] = try value.map { try NamedRecord(stored: $0) } }
    }

    /// Amounts by class name as an array by class id, `absent` where there is none.
    private mutating func byClass(_ counts: [String: Int64], absent: Int64) -> [Int64] {
        var out: [Int64] = []
        for (rc, n) in counts {
            let c = Int(classID(rc))
            if out.count <= c { out += repeatElement(absent, count: c + 1 - out.count) }
            out[c] = n
        }
        return out
    }
}

/// A fold's state seen as the stored tables (the records `storedTables`
/// would write), with one event's writes kept aside in `written` and the
/// first change of each record recorded in `undo`, as `RecordingViewStore` does.
final class JournalViews: ViewStore {
    private let fold: InternedFold
    private(set) var written = [[String: [UInt8]?]](repeating: [:], count: Table.allCases.count)
    private(set) var undo: [(table: Table, key: String, value: [UInt8])] = []
    /// Usages keys to record ids.
    private(set) lazy var usageKeys: [String: Int] = {
        var keys: [String: Int] = [:]
        for i in fold.usages.indices { keys[fold.usageKey(i)] = i }
        return keys
    }()
    /// Consumers by the providers they hold (for `consumers(of:)` in class renames).
    private lazy var holders: [Int32: [Int32]] = {
        var out: [Int32: [Int32]] = [:]
        for (i, c) in fold.consumers.enumerated() {
            guard let c else { continue }
            for p in Set(c.amounts.map(\.provider)) { out[p, default: []].append(Int32(i)) }
        }
        return out
    }()

    init(_ fold: InternedFold) { self.fold = fold }

    /// The two parts of an index-table key.
    static func split(_ key: String) -> (String, String) {
        let u = key.utf8
        guard let sep = u.firstIndex(of: 0) else { return (key, "") }
        return (String(key[..<sep]), String(key[u.index(after: sep)...]))
    }

    private func provider(_ uuid: String) -> (id: Int32, record: InternedFold.Provider)? {
        guard let id = fold.providerIDs.existing(uuid), let p = fold.providers[Int(id)] else { return nil }
        return (id, p)
    }

    /// A record as the fold's state holds it.
    private func stored(_ table: Table, _ key: String) -> [UInt8]? {
        switch table {
        case .providers: return provider(key).flatMap { fold.providerRecord($0.id)?.storedBytes }
        case .consumers: return fold.consumerIDs.existing(key).flatMap { fold.consumerRecord($0)?.storedBytes }
        case .usages: return usageKeys[key].flatMap { fold.usageRecord($0)?.storedBytes }
        case .resourceClasses: return fold.resourceClasses[key]?.storedBytes
        case .traits: return fold.traits[key]?.storedBytes
        case .providerNames: return fold.journal!.names[key].map { fold.providerIDs.bytes($0) }
        default: break
        }
        let (a, b) = Self.split(key)
        let present: Bool
        switch table {
        case .providerChildren:
            present = provider(b).map { $0.record.parent >= 0 && fold.providerIDs.string($0.record.parent) == a } ?? false
        case .providerConsumers:
            guard let p = fold.providerIDs.existing(a), let c = fold.consumerIDs.existing(b) else { return nil }
            present = fold.consumers[Int(c)]?.amounts.contains { $0.provider == p } ?? false
        case .aggregates: present = provider(b)?.record.aggregates.contains(a) ?? false
        case .traitProviders: present = provider(b)?.record.traits.contains(a) ?? false
        case .classProviders:
            present = fold.classIDs.existing(a).map { c in provider(b)?.record.inventories[c] != nil } ?? false
        default: present = false
        }
        return present ? [] : nil
    }

    /// The keys of the fold's state in `table` that may start with `prefix`.
    private func keys(_ table: Table, prefix: String) -> [String] {
        var out: [String] = []
        func each(_ body: (String, InternedFold.Provider) -> Void) {
            for (i, p) in fold.providers.enumerated() where p != nil { body(fold.providerIDs.string(Int32(i)), p!) }
        }
        switch table {
        case .providers: each { u, _ in out.append(u) }
        case .consumers:
            for (i, c) in fold.consumers.enumerated() where c != nil { out.append(fold.consumerIDs.string(Int32(i))) }
        case .usages: out = Array(usageKeys.keys)
        case .resourceClasses: out = Array(fold.resourceClasses.keys)
        case .traits: out = Array(fold.traits.keys)
        case .providerNames: out = Array(fold.journal!.names.keys)
        case .providerChildren: each { u, p in if p.parent >= 0 { out.append(fold.providerIDs.string(p.parent) + keySep + u) } }
        case .aggregates: each { u, p in out += p.aggregates.map { $0 + keySep + u } }
        case .traitProviders: each { u, p in out += p.traits.map { $0 + keySep + u } }
        case .classProviders: each { u, p in out += p.inventories.keys.map { fold.classIDs.string($0) + keySep + u } }
        case .providerConsumers:
            // `consumers(of:)` asks for one provider's links.
            let (a, _) = Self.split(prefix)
            let held: [Int32] = if prefix.utf8.contains(0), let p = fold.providerIDs.existing(a) { [p] } else { Array(holders.keys) }
            for p in held {
                let uuid = fold.providerIDs.string(p)
                out += (holders[p] ?? []).map { uuid + keySep + fold.consumerIDs.string($0) }
            }
        }
        return out
    }

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        if let w = written[table.ordinal][key] { return w }
        return stored(table, key)
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        let candidates = Set(keys(table, prefix: prefix)).union(written[table.ordinal].keys)
        return try candidates.filter { $0.hasPrefix(prefix) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .compactMap { k in try get(table, k).map { (k, $0) } }
    }

    private func remember(_ table: Table, _ key: String, old: [UInt8]?) {
        if undo.contains(where: { $0.table == table && $0.key == key }) { return }
        undo.append((table, key, old.map { [1] + $0 } ?? [0]))
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        let old = try get(table, key)
        if old == value { return }
        remember(table, key, old: old)
        written[table.ordinal][key] = .some(value)
    }

    func delete(_ table: Table, _ key: String) throws {
        guard let old = try get(table, key) else { return }
        remember(table, key, old: old)
        written[table.ordinal][key] = .some(nil)
    }
}

// MARK: the journal, grouped for writing

/// Undo entries of one table, grouped by record: `keys[i]`'s entries are
/// `seqs[ranges[i]]` and `values[ranges[i]]`, oldest first. A value is a
/// range of `arena`, which every table of a journal shares.
public struct JournalTable {
    public var keys: [[UInt8]] = []
    public var ranges: [Range<Int>] = []
    public var seqs: [UInt64] = []
    public var values: [Range<Int>] = []
    public var arena: [UInt8] = []

    /// Entry `i`'s value bytes.
    public func withValue<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try arena.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[values[i]])) }
    }
}

extension InternedFold {
    /// The journal's undo entries by table (`Table.ordinal`), and its index
    /// entries (kind name, id) with their events, oldest first. The provider
    /// links' table is one entry a group, in `linkVersions`' order: by event,
    /// then link key.
    public func journalOutput() -> (undo: [JournalTable], index: [(kind: String, id: String, seqs: [UInt64])]) {
        let j = journal!
        let tables = Table.allCases.count
        func keySpace(_ t: Int) -> Int {
            switch t {
            case Table.providers.ordinal: providerIDs.count
            case Table.consumers.ordinal: consumerIDs.count
            case Table.usages.ordinal: usageIDs.count
            default: j.keys[t].count
            }
        }
        // Counting sort by (table, key), which keeps each record's entries in log order.
        var base = [Int](repeating: 0, count: tables + 1)
        for t in 0..<tables { base[t + 1] = base[t] + keySpace(t) }
        var starts = [Int](repeating: 0, count: base[tables] + 1)
        for u in j.undo { starts[base[Int(u.table)] + Int(u.key) + 1] += 1 }
        for b in 0..<base[tables] { starts[b + 1] += starts[b] }
        var order = [Int](repeating: 0, count: j.undo.count)
        var next = starts
        for (i, u) in j.undo.enumerated() {
            let b = base[Int(u.table)] + Int(u.key)
            order[next[b]] = i
            next[b] += 1
        }
        var out = [JournalTable](repeating: JournalTable(arena: j.values), count: tables)
        for t in 0..<tables {
            for key in 0..<keySpace(t) {
                let b = base[t] + key
                guard starts[b + 1] > starts[b] else { continue }
                let first = out[t].seqs.count
                for i in order[starts[b]..<starts[b + 1]] {
                    out[t].seqs.append(j.undo[i].seq)
                    out[t].values.append(j.undo[i].start..<j.undo[i].end)
                }
                out[t].ranges.append(first..<out[t].seqs.count)
                out[t].keys.append(recordKey(t, Int32(key)))
            }
        }
        out[Table.providerConsumers.ordinal] = linkOutput()
        // Index entries by (kind, id), each with its events in log order.
        var groups: [FoldJournal.Entry: Int] = [:]
        var index: [(kind: String, id: String, seqs: [UInt64])] = []
        for (e, seq) in j.index {
            if let g = groups[e] {
                index[g].seqs.append(seq)
            } else {
                groups[e] = index.count
                index.append((FoldJournal.indexKinds[Int(e.kind)], indexID(e), [seq]))
            }
        }
        return (out, index)
    }

    private func linkOutput() -> JournalTable {
        var out = JournalTable(arena: [0, 1])
        let links = journal!.links
        var first = 0
        while first < links.count {
            var end = first + 1
            while end < links.count && links[end].seq == links[first].seq { end += 1 }
            var event = links[first..<end].map { (key: providerIDs.bytes($0.provider) + [0] + consumerIDs.bytes($0.consumer), link: $0) }
            if event.count > 1 { event.sort { a, b in b.key.withUnsafeBytes { InternedFold.byteOrder(a.key, $0) < 0 } } }
            for (key, link) in event {
                out.ranges.append(out.seqs.count..<out.seqs.count + 1)
                out.keys.append(key)
                out.seqs.append(link.seq)
                out.values.append(link.present ? 1..<2 : 0..<1)
            }
            first = end
        }
        return out
    }

    /// The stored key of record `key` of table `t` in the journal's key spaces.
    private func recordKey(_ t: Int, _ key: Int32) -> [UInt8] {
        switch t {
        case Table.providers.ordinal: return providerIDs.bytes(key)
        case Table.consumers.ordinal: return consumerIDs.bytes(key)
        case Table.usages.ordinal: return Array(usageKey(Int(key)).utf8)
        default: return journal!.keys[t].bytes(key)
        }
    }

    private func indexID(_ e: FoldJournal.Entry) -> String {
        switch e.kind {
        case FoldJournal.consumerKind: consumerIDs.string(e.id)
        case FoldJournal.providerKind: providerIDs.string(e.id)
        case FoldJournal.projectKind, FoldJournal.userKind: nameIDs.string(e.id)
        case FoldJournal.classKind: classIDs.string(e.id)
        default: journal!.typeIDs.string(e.id)
        }
    }
}
