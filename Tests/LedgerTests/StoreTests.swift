import Foundation
import Testing
@testable import Ledger
@testable import LedgerStore
import LMDB

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random commands, valid and invalid, over a handful of providers, classes and consumers.
/// `generation` gives a provider's current generation (so most generation
/// checks pass and the sequence goes somewhere); a stale one is used at times.
func randomCommand(_ rng: inout SeededRandom, generation: (String) -> Int64 = { _ in 0 }) -> Command {
    let providers = (0..<4).map { String(format: "aaaaaaaa-0000-4000-8000-%012d", $0) }
    let consumers = (0..<6).map { String(format: "cccccccc-0000-4000-8000-%012d", $0) }
    let classes = ["VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_GPU", "CUSTOM_MISSING"]
    let p = providers.randomElement(using: &rng)!
    func gen() -> Int64 { Int.random(in: 0..<5, using: &rng) == 0 ? Int64.random(in: 0..<6, using: &rng) : generation(p) }
    func inventory() -> InventoryRecord {
        InventoryRecord(total: Int64.random(in: 8...64, using: &rng), reserved: Int64.random(in: 0...4, using: &rng),
                        minUnit: 1, maxUnit: Int64.random(in: 4...64, using: &rng), stepSize: [1, 1, 2].randomElement(using: &rng)!,
                        allocationRatio: [1.0, 1.5, 16.0].randomElement(using: &rng)!)
    }
    switch Int.random(in: 0..<17, using: &rng) {
    case 0: return .createProvider(uuid: p, name: Int.random(in: 0..<4, using: &rng) == 0 ? "rp-dup" : "rp-\(p.suffix(2))",
                                   parent: Int.random(in: 0..<4, using: &rng) == 0 ? providers.randomElement(using: &rng) : nil)
    case 1: return Int.random(in: 0..<3, using: &rng) == 0 ? .deleteProvider(uuid: p) : .createProvider(uuid: p, name: "rp-\(p.suffix(2))", parent: nil)
    case 2: return .updateProvider(uuid: p, name: "rp-\(Int.random(in: 0..<6, using: &rng))",
                                   parent: .some(Bool.random(using: &rng) ? providers.randomElement(using: &rng) : nil), allowReparenting: true)
    case 3, 4: return .setInventories(provider: p, generation: gen(),
                                      inventories: (Int.random(in: 0..<5, using: &rng) == 0 ? classes : ["VCPU", "MEMORY_MB", "DISK_GB"])
                                        .shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)).map { ($0, inventory()) },
                                      reservedMayEqualTotal: Bool.random(using: &rng))
    case 5: return .addInventory(provider: p, resourceClass: classes.randomElement(using: &rng)!, inventory: inventory(), reservedMayEqualTotal: true)
    case 6: return .deleteInventory(provider: p, resourceClass: classes.randomElement(using: &rng)!)
    case 7: return .ensureResourceClass(name: "CUSTOM_GPU")
    case 8: return Bool.random(using: &rng) ? .deleteResourceClass(name: "CUSTOM_GPU") : .ensureResourceClass(name: "CUSTOM_GPU")
    case 9: return .setProviderTraits(provider: p, generation: gen(),
                                      traits: ["HW_CPU_X86_AVX", "CUSTOM_T"].filter { _ in Bool.random(using: &rng) })
    case 10: return .ensureTrait(name: "CUSTOM_T")
    case 11: return .setProviderAggregates(provider: p, generation: Bool.random(using: &rng) ? nil : gen(),
                                           aggregates: ["agg-1", "agg-2"].filter { _ in Bool.random(using: &rng) })
    case 12, 13: return .deleteAllocations(consumer: consumers.randomElement(using: &rng)!)
    default:
        let n = Int.random(in: 1...2, using: &rng)
        let cs = (0..<n).map { _ in
            AllocationRequest.Consumer(
                uuid: consumers.randomElement(using: &rng)!, project: ["p1", "p2"].randomElement(using: &rng)!,
                user: ["u1", "u2"].randomElement(using: &rng)!, generation: .none,
                consumerType: ["INSTANCE", "MIGRATION", nil].randomElement(using: &rng)!,
                allocations: providers.shuffled(using: &rng).prefix(Int.random(in: 0..<8, using: &rng) == 0 ? 0 : Int.random(in: 1...2, using: &rng)).map { rp in
                    (provider: rp, resources: (Int.random(in: 0..<6, using: &rng) == 0 ? classes : ["VCPU", "MEMORY_MB", "DISK_GB"])
                        .shuffled(using: &rng).prefix(Int.random(in: 1...2, using: &rng))
                        .map { ($0, Int64.random(in: 1...3, using: &rng)) })
                })
        }
        return .setAllocations(AllocationRequest(consumers: Array(cs), origin: n > 1 ? .post : .put))
    }
}

func currentGeneration(_ store: LedgerStore) -> (String) -> Int64 {
    { uuid in (try? store.read { v, _ in try v.provider(uuid)?.generation }) ?? nil ?? 0 }
}

@Suite(.serialized) struct StoreTests {
    let ctx = EventContext(requestID: "req-test", actor: Actor(user: "admin", project: "admin"), microversion: "1.39")

    /// A new store holding what `count` random commands from `seed` made of it.
    func randomHistory(_ name: String, commands count: Int, seed: UInt64) async throws -> LedgerStore {
        let store = try LedgerStore(path: tempPath(name))
        let writer = Writer(store: store)
        await submitRandomCommands(count, seed: seed, to: writer, of: store)
        writer.stop()
        return store
    }

    /// Submits `count` random commands (valid and invalid, from one seed) through `writer`.
    func submitRandomCommands(_ count: Int, seed: UInt64, to writer: Writer, of store: LedgerStore) async {
        var rng = SeededRandom(state: seed)
        for _ in 0..<count { _ = await writer.submit(randomCommand(&rng, generation: currentGeneration(store)), context: ctx) { _ in () } }
    }

    /// After every command, accepted or refused, the stored views equal a
    /// fresh fold of the log; refused commands leave the log as it was; every
    /// stored event validates against its schema in schemas/events.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func viewsAlwaysEqualTheFoldOfTheLog(seed: UInt64) async throws {
        let store = try LedgerStore(path: tempPath("prop"))
        let writer = Writer(store: store)
        defer { writer.stop() }
        var rng = SeededRandom(state: seed)
        var accepted = 0, rejected = 0
        for step in 0..<300 {
            let before = try store.lastSequence()
            let outcome = await writer.submit(randomCommand(&rng, generation: currentGeneration(store)), context: ctx) { _ in () }
            let after = try store.lastSequence()
            switch outcome {
            case .rejected: rejected += 1; #expect(after == before, "a refused command wrote events (step \(step))")
            case .accepted: accepted += 1
            case .failed(let why): Issue.record("write failed: \(why)")
            }
            if step % 5 == 0 || step == 299 {
                let (_, diffs) = try LogFold.verify(store)
                #expect(diffs.isEmpty, "seed \(seed) step \(step): \(diffs.prefix(3))")
                if !diffs.isEmpty { return }
            }
        }
        #expect(accepted > 20 && rejected > 20, "the generator should exercise both outcomes (\(accepted)/\(rejected))")
        var seen = Set<String>()
        for seq in 1...max(1, try store.lastSequence()) {
            guard let raw = try store.rawEvent(seq) else { Issue.record("gap at \(seq)"); continue }
            let event = try Event.decoded(raw)
            #expect(event.seq == seq)
            seen.insert(event.payload.type)
            if let violation = try EventSchemas.check(raw) {
                Issue.record("event \(seq) \(event.payload.type) does not match its schema: \(violation)")
            }
        }
        #expect(seen.count >= 8, "event types seen: \(seen.sorted())")
    }

    /// The stored bytes of every event stay exactly as written while later
    /// writes of every kind (including deletes) go on.
    @Test func eventsAreNeverRewritten() async throws {
        let store = try LedgerStore(path: tempPath("immutable"))
        let writer = Writer(store: store)
        defer { writer.stop() }
        var rng = SeededRandom(state: 42)
        var snapshot: [UInt64: [UInt8]] = [:]
        for _ in 0..<500 {
            _ = await writer.submit(randomCommand(&rng, generation: currentGeneration(store)), context: ctx) { _ in () }
            let last = try store.lastSequence()
            if last > 0, snapshot[last] == nil { snapshot[last] = try store.rawEvent(last) }
        }
        var types = Set<String>()
        for (seq, bytes) in snapshot {
            #expect(try store.rawEvent(seq) == bytes, "event \(seq) changed")
            types.insert(try Event.decoded(bytes).payload.type)
        }
        #expect(types.contains("ResourceProviderDeleted") && types.contains("AllocationsDeleted"), "\(types.sorted())")
    }

    /// A batch of commands waiting together commits once; each is decided
    /// against the state the ones before it left.
    @Test func groupCommitDecidesInArrivalOrder() async throws {
        let store = try LedgerStore(path: tempPath("group"))
        let writer = Writer(store: store)
        defer { writer.stop() }
        _ = await writer.submit(.createProvider(uuid: rp1, name: "a", parent: nil), context: ctx) { _ in () }
        _ = await writer.submit(.setInventories(provider: rp1, generation: 0, inventories: [("VCPU", InventoryRecord(total: 10))],
                                                reservedMayEqualTotal: true), context: ctx) { _ in () }
        // 20 consumers race for 10 VCPUs: exactly 10 succeed.
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                group.addTask {
                    let c = String(format: "dddddddd-0000-4000-8000-%012d", i)
                    if case .accepted = await writer.submit(alloc(c, [(rp1, [("VCPU", 1)])]), context: ctx, read: { _ in () }) { return true }
                    return false
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 10)
        #expect(try store.read { v, _ in try v.provider(rp1)?.usages["VCPU"] } == 10)
        #expect(try LogFold.verify(store).differences.isEmpty)
    }

    /// Commands from many tasks at once: batches are decided while the one
    /// before them commits, on top of its staged changes. The views still
    /// equal a fold of the log, and every accepted command's event is there.
    @Test(arguments: [11, 12] as [UInt64])
    func concurrentCommandsFoldLikeTheLog(seed: UInt64) async throws {
        let store = try LedgerStore(path: tempPath("concurrent"))
        let writer = Writer(store: store)
        let outcomes = await withTaskGroup(of: [UInt64?].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var rng = SeededRandom(state: seed &* 100 &+ UInt64(task))
                    var seqs: [UInt64?] = []
                    for _ in 0..<60 {
                        let outcome = await writer.submit(randomCommand(&rng, generation: currentGeneration(store)), context: ctx) { _ in () }
                        if case .accepted(let seq, _) = outcome { seqs.append(seq) }
                        if case .failed(let why) = outcome { Issue.record("write failed: \(why)") }
                    }
                    return seqs
                }
            }
            return await group.reduce(into: [UInt64?]()) { $0 += $1 }
        }
        let (all, again) = writer.decisions
        writer.stop()
        #expect(all == 480 && again == 0)
        let written = outcomes.compactMap { $0 }
        #expect(written.count > 100, "accepted commands that wrote events: \(written.count)")
        #expect(Set(written).count == written.count, "two commands answered with the same event")
        let last = try store.lastSequence()
        for seq in written {
            let raw = try store.rawEvent(seq)
            #expect(seq <= last && raw != nil)
        }
        #expect(try LogFold.verify(store).differences.isEmpty)
    }

    /// A batch decided on top of one whose commit fails is decided again
    /// against what is on disk: here the allocation that needed the failed
    /// inventory is refused, not written over a gap.
    @Test func aFailedCommitDecidesTheNextBatchAgain() async throws {
        struct DiskFull: Error {}
        let store = try LedgerStore(path: tempPath("redecide"))
        let release = DispatchSemaphore(value: 0)
        let writer = Writer(store: store, beforeCommit: { batch in
            guard batch == 2 else { return }
            release.wait()
            throw DiskFull()
        })
        guard case .accepted = await writer.submit(.createProvider(uuid: rp1, name: "a", parent: nil), context: ctx, read: { _ in () }) else {
            Issue.record("creating the provider failed")
            return
        }
        let inventory = Task {
            await writer.submit(.setInventories(provider: rp1, generation: 0, inventories: [("VCPU", InventoryRecord(total: 10))],
                                                reservedMayEqualTotal: true), context: ctx) { _ in () }
        }
        while writer.decisions.all < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        let allocation = Task { await writer.submit(alloc(c1, [(rp1, [("VCPU", 2)])]), context: ctx) { _ in () } }
        // The allocation is decided (accepted, on the staged inventory) while batch 2 waits.
        while writer.decisions.all < 3 { try await Task.sleep(nanoseconds: 1_000_000) }
        release.signal()
        let first = await inventory.value
        let second = await allocation.value
        guard case .failed = first else { Issue.record("the inventory's commit should fail: \(first)"); return }
        guard case .rejected(let why) = second else { Issue.record("the allocation should be refused: \(second)"); return }
        #expect(why.detail.contains("VCPU"), "\(why.detail)")
        #expect(writer.decisions.again == 1)
        writer.stop()
        #expect(try store.lastSequence() == 1)
        #expect(try LogFold.verify(store).differences.isEmpty)
    }

    /// verify names each way the stored views can part from the log: a
    /// record that differs, one that is missing, one the log never made.
    @Test func verifyFindsViewsThatDisagreeWithTheLog() async throws {
        let store = try LedgerStore(path: tempPath("tampered"))
        let writer = Writer(store: store)
        await submitRandomCommands(120, seed: 5, to: writer, of: store)
        let mine = "eeeeeeee-0000-4000-8000-000000000001"
        _ = await writer.submit(.createProvider(uuid: mine, name: "tampered", parent: nil), context: ctx) { _ in () }
        _ = await writer.submit(.setInventories(provider: mine, generation: 0, inventories: [("VCPU", InventoryRecord(total: 4))],
                                                reservedMayEqualTotal: true), context: ctx) { _ in () }
        _ = await writer.submit(alloc("eeeeeeee-0000-4000-8000-000000000002", [(mine, [("VCPU", 1)])]), context: ctx) { _ in () }
        writer.stop()
        #expect(try LogFold.verify(store).differences.isEmpty)
        let dump = try store.dumpViews()
        let provider = try #require(dump[.providers]?.first)
        let consumer = try #require(dump[.consumers]?.first)
        var changed = try ProviderRecord(stored: provider.value)
        changed.generation += 5
        try store.env.write { txn in
            try txn.put(store.dbs[.providers]!, Array(provider.key.utf8), changed.storedBytes)
            try txn.delete(store.dbs[.consumers]!, Array(consumer.key.utf8))
            try txn.put(store.dbs[.traits]!, Array("CUSTOM_NEVER_MADE".utf8),
                        NamedRecord(name: "CUSTOM_NEVER_MADE", created: 1, updated: nil).storedBytes)
        }
        let diffs = try LogFold.verify(store).differences
        #expect(diffs.count == 3, "\(diffs)")
        #expect(diffs.contains { $0.hasPrefix("providers \(provider.key): stored {") && $0.contains("but the log folds to {") })
        #expect(diffs.contains("consumers \(consumer.key): in the fold of the log but not stored"))
        #expect(diffs.contains("traits CUSTOM_NEVER_MADE: stored but not in the fold of the log"))
    }

    /// The fold's reader hands on every event once, in order, whatever the
    /// batch size of its decoding thread, and nothing after `body` stops it.
    @Test func foldReadsEveryEventInOrder() async throws {
        let store = try await randomHistory("fold-order", commands: 400, seed: 9)
        let last = try store.lastSequence()
        #expect(last > 80)
        for size in [1, 2, 7, 32, Int(last), 1024] {
            for stop in [UInt64(0), 1, 9, last / 2, last] {
                var seen: [UInt64] = []
                try store.env.read { txn in
                    try LogFold.events(of: store, in: txn, batch: size) { ev, raw in
                        let again = try Event.decoded(raw)
                        #expect(again == ev)
                        seen.append(ev.seq)
                        return stop == 0 || ev.seq < stop
                    }
                }
                let expected = Array(1...(stop == 0 ? last : stop))
                #expect(seen == expected, "batch \(size), stop at \(stop)")
            }
        }
    }

    /// An event that will not decode fails a read that reaches it, and only
    /// one that does, whatever the batch it is decoded in: everything before
    /// it is handed on first, so a replay can stop short of damage.
    @Test func foldStopsAtAnEventThatWillNotDecode() async throws {
        let store = try await randomHistory("fold-damage", commands: 400, seed: 9)
        let last = try store.lastSequence()
        let damaged = last / 2
        try store.env.write { try $0.put(store.log, LedgerStore.key(damaged), Array("{\"seq\":".utf8)) }
        for size in [1, 7, 1024] {
            var seen: [UInt64] = []
            try store.env.read { txn in
                try LogFold.events(of: store, in: txn, batch: size) { ev, _ in
                    seen.append(ev.seq)
                    return ev.seq < damaged - 1
                }
            }
            #expect(seen == Array(1...(damaged - 1)), "batch \(size): stopping before the damage")
            seen = []
            #expect(throws: (any Error).self, "batch \(size): reading into the damage") {
                try store.env.read { txn in
                    try LogFold.events(of: store, in: txn, batch: size) { ev, _ in
                        seen.append(ev.seq)
                        return true
                    }
                }
            }
            #expect(seen == Array(1...(damaged - 1)), "batch \(size): every event before the damage")
        }
    }

    /// Random commands through the writer into a new data dir, and the views
    /// right after each accepted one, by its sequence.
    func historyWithViews(_ name: String, seed: UInt64, commands: Int) async throws
        -> (LedgerStore, [UInt64: [Table: [(key: String, value: [UInt8])]]]) {
        let store = try LedgerStore(path: tempPath(name))
        let writer = Writer(store: store)
        var rng = SeededRandom(state: seed)
        var dumps: [UInt64: [Table: [(key: String, value: [UInt8])]]] = [:]
        for _ in 0..<commands {
            if case .accepted(let seq?, _) = await writer.submit(randomCommand(&rng, generation: currentGeneration(store)), context: ctx, read: { _ in () }) {
                dumps[seq] = try store.dumpViews()
            }
        }
        writer.stop()
        return (store, dumps)
    }

    /// replay --to-sequence N rebuilds exactly the views as they stood after event N.
    @Test func replayToAnySequenceRebuildsThatState() async throws {
        let (store, dumps) = try await historyWithViews("replay-src", seed: 7, commands: 120)
        for n in dumps.keys.sorted().filter({ $0 % 7 == 1 }) {
            let dest = tempPath("replay-dst")
            let count = try LogFold.replay(from: store, into: dest, target: .sequence(n))
            #expect(count == n)
            let replayed = try LedgerStore(path: dest)
            #expect(try replayed.lastSequence() == n)
            #expect(LogFold.compare(stored: dumps[n]!, folded: try replayed.dumpViews()).isEmpty, "replay to \(n) differs")
        }
    }

    /// The views as of any event, read record by record and table by table
    /// (and a provider's links by its prefix, as the API reads them), equal
    /// the views as they stood right after that event.
    @Test func asOfReadsEveryRecordAsItWas() async throws {
        let (store, dumps) = try await historyWithViews("as-of", seed: 23, commands: 400)
        #expect(dumps.count > 60)
        var everKeys: [Table: Set<String>] = [:]
        for dump in dumps.values { for (t, records) in dump { everKeys[t, default: []].formUnion(records.map(\.key)) } }
        let providers = everKeys[.providers] ?? []
        #expect(!(everKeys[.providerConsumers] ?? []).isEmpty)
        for n in dumps.keys.sorted() {
            try store.env.read { (txn: Transaction) throws -> Void in
                let asOf = AsOfViewStore(base: LMDBViewStore(txn: txn, dbs: store.dbs), history: store.history,
                                         links: store.linkVersions, sequence: n)
                for t in Table.allCases {
                    let then = dumps[n]![t] ?? []
                    let byKey = Dictionary(uniqueKeysWithValues: then.map { ($0.key, $0.value) })
                    for key in everKeys[t] ?? [] {
                        let got = try asOf.get(t, key)
                        #expect(got == byKey[key], "\(t) \(key) as of \(n)")
                    }
                    let all = try asOf.scan(t, prefix: "")
                    #expect(all.map(\.key) == then.map(\.key), "\(t) as of \(n)")
                    #expect(all.map(\.value) == then.map(\.value), "\(t) as of \(n)")
                }
                for p in providers {
                    let prefix = p + keySep
                    let then = (dumps[n]![.providerConsumers] ?? []).filter { $0.key.hasPrefix(prefix) }
                    let links = try asOf.scan(.providerConsumers, prefix: prefix)
                    #expect(links.map(\.key) == then.map(\.key), "links of \(p) as of \(n)")
                }
            }
        }
    }

    /// Every record of every database of a data dir, by database name.
    func everyRecord(_ store: LedgerStore) throws -> [String: [[UInt8]]] {
        try store.env.read { txn in
            var out: [String: [[UInt8]]] = [:]
            let named = [store.log, store.meta, store.history, store.lifetimes, store.linkVersions!, store.timeIndex, store.eventIndex]
            for db in named + Table.allCases.map({ store.dbs[$0]! }) {
                var records: [[UInt8]] = []
                try txn.scan(db) { k, v in
                    records.append(Array(k) + [0xFE, 0xFE] + Array(v))
                    return true
                }
                out[db.name] = records
            }
            return out
        }
    }

    /// replay folds in memory and writes each database once, sorted; what it
    /// writes equals, byte for byte in every database (log, views, undo log,
    /// event and time indexes, meta), what folding the same events one by one
    /// through the live projector writes, at any stopping point, and for the
    /// whole log what the source itself holds.
    @Test(arguments: [3, 5] as [UInt64])
    func replayWritesWhatTheLiveProjectorWrites(seed: UInt64) async throws {
        let store = try LedgerStore(path: tempPath("bulk-src"))
        let writer = Writer(store: store)
        var rng = SeededRandom(state: seed)
        for step in 0..<450 {
            let command: Command = switch step % 37 {
            case 11: .renameResourceClass(from: "CUSTOM_GPU", to: "CUSTOM_GPU_RENAMED")
            case 23: .renameResourceClass(from: "CUSTOM_GPU_RENAMED", to: "CUSTOM_GPU")
            case 30: randomReshape(&rng, generation: currentGeneration(store))
            default: randomCommand(&rng, generation: currentGeneration(store))
            }
            _ = await writer.submit(command, context: ctx) { _ in () }
        }
        writer.stop()
        while try store.unindexedCount() > 0 { try store.catchUpIndex() }
        let last = try store.lastSequence()
        #expect(last > 100)
        let types = Set(try store.events().map(\.payload.type))
        #expect(types.isSuperset(of: ["ResourceClassRenamed", "Reshaped", "ResourceProviderUpdated", "AllocationsDeleted"]), "\(types.sorted())")
        for n in [1, last / 3, last / 2 + 1, last] {
            let reference = tempPath("bulk-ref")
            #expect(try LogFold.replayEventByEvent(from: store, into: reference, target: .sequence(n)) == n)
            let want = try everyRecord(try LedgerStore(path: reference))
            // One hand-off to the folding thread, and many (the events between them folded on this one).
            var got: [String: [[UInt8]]] = [:]
            for chunk in [4096, 3] {
                let bulk = tempPath("bulk-dst")
                #expect(try LogFold.replay(from: store, into: bulk, target: .sequence(n), foldChunk: chunk) == n)
                got = try everyRecord(try LedgerStore(path: bulk))
                for name in want.keys.sorted() {
                    let same = got[name] == want[name]  // not inside #expect, which would print every record
                    #expect(same, "seed \(seed), replay to \(n) in chunks of \(chunk): \(name) differs (\(got[name]?.count ?? 0) against \(want[name]!.count) records)")
                }
            }
            if n == last {
                let same = got == (try everyRecord(store))
                #expect(same, "seed \(seed): replay of the whole log differs from its source")
            }
        }
        // To a time: every event up to the first one after it, the same data dir as to that sequence.
        let events = try store.events()
        let time = events[events.count / 2].time
        let through = UInt64(events.firstIndex { $0.time > time } ?? events.count)
        let byTime = tempPath("bulk-time"), bySequence = tempPath("bulk-seq")
        #expect(try LogFold.replay(from: store, into: byTime, target: .time(time)) == through)
        try LogFold.replay(from: store, into: bySequence, target: .sequence(through))
        let same = try everyRecord(try LedgerStore(path: byTime)) == everyRecord(try LedgerStore(path: bySequence))
        #expect(same, "seed \(seed): replay to a time differs from replay to its last event")
    }

    /// A data dir of the previous format is refused by the server with the
    /// way to upgrade it, and that way works: replay reads its log, copies it
    /// byte for byte into a new data dir of this format, and folds it.
    @Test func olderFormatIsUpgradedByReplay() async throws {
        let path = tempPath("format-2")
        do {
            let store = try LedgerStore(path: path)
            let writer = Writer(store: store)
            await submitRandomCommands(200, seed: 11, to: writer, of: store)
            writer.stop()
            try store.env.write { try $0.put(store.meta, Array("format".utf8), Array("2".utf8)) }
        }
        #expect {
            _ = try LedgerStore(path: path)
        } throws: { error in
            "\(error)".contains("has data format 2") && "\(error)".contains("placement-ledger replay --data-dir")
        }
        #expect(throws: (any Error).self) { _ = try LedgerStore(path: path, readOnly: true) }
        let old = try LedgerStore(path: path, readOnly: true, olderFormat: true)
        let last = try old.lastSequence()
        #expect(last > 15)
        let dest = tempPath("format-3")
        #expect(try LogFold.replay(from: old, into: dest, target: .sequence(last)) == last)
        let upgraded = try LedgerStore(path: dest)
        for seq in 1...last { #expect(try upgraded.rawEvent(seq) == old.rawEvent(seq), "event \(seq) was not copied as it was") }
        #expect(try LogFold.verify(upgraded).differences.isEmpty)
        #expect(LogFold.compare(stored: try old.dumpViews(), folded: try upgraded.dumpViews()).isEmpty)
    }

    /// An event's index entries hold each (kind, id) once, for a small event
    /// (a list) and for one past the list's size (40 consumers of 20 projects
    /// and 25 users in one POST: repeats after the set takes over).
    @Test(arguments: [3, 40])
    func indexEntriesNameEachThingOnce(consumers: Int) throws {
        let store = try LedgerStore(path: tempPath("index-entries-\(consumers)"))
        let providers = ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"]
        let payload = EventPayload.allocationsReplaced(consumers: (0..<consumers).map { i in
            ConsumerAllocations(consumer: String(format: "cccccccc-0000-4000-8000-%012d", i), project: "p\(i % 20)", user: "u\(i % 25)",
                                consumerType: nil, allocations: [providers[i % 2]: ["VCPU": 1, i % 5 == 0 ? "DISK_GB" : "MEMORY_MB": 2]])
        })
        let event = Event(seq: 1, time: 0, context: ctx, payload: payload)
        let entries = try store.env.read { txn in try store.indexEntries(event, before: Views(LMDBViewStore(txn: txn, dbs: store.dbs))) }
        var expected: Set<IndexEntry> = [IndexEntry(.type, payload.type)]
        for p in payload.providers { expected.insert(IndexEntry(.provider, p)) }
        for i in 0..<consumers {
            expected.insert(IndexEntry(.consumer, String(format: "cccccccc-0000-4000-8000-%012d", i)))
            expected.insert(IndexEntry(.project, "p\(i % 20)"))
            expected.insert(IndexEntry(.user, "u\(i % 25)"))
        }
        for rc in ["VCPU", "MEMORY_MB", "DISK_GB"] { expected.insert(IndexEntry(.resourceClass, rc)) }
        #expect(entries.count == Set(entries).count)
        #expect(Set(entries) == expected)
    }

    /// The event and time indexes, written behind the log, answer exactly as
    /// indexes written with each event: with nothing indexed yet (every
    /// answer from the tail of the log), half indexed, and all indexed; and
    /// once caught up they hold the same entries byte for byte.
    @Test func deferredIndexAnswersAsInlineIndex() throws {
        let inline = try LedgerStore(path: tempPath("index-inline"))
        let deferred = try LedgerStore(path: tempPath("index-deferred"))
        var rng = SeededRandom(state: 7)
        var known: [PendingIndex] = []  // the second half is indexed from what the fold worked out
        for i in 0..<400 {
            let command = randomCommand(&rng, generation: currentGeneration(inline))
            let time = Micros(1_000 * (i / 3))  // several events share a time
            _ = try inline.commitSynchronously([command], context: ctx, clock: { time })
            _ = try deferred.env.write { txn in
                try deferred.decideAndAppend(command, context: ctx, time: time, after: try deferred.lastSequence(txn), index: false,
                                             pending: { known.append($0) }, in: txn)
            }
        }
        let last = try inline.lastSequence()
        #expect(last > 100)
        #expect(try deferred.lastSequence() == last)
        #expect(try inline.unindexedCount() == 0)
        #expect(try deferred.unindexedCount() == last)
        var universe: Set<IndexEntry> = [IndexEntry(.project, "nobody"), IndexEntry(.consumer, "cccccccc-0000-4000-8000-999999999999")]
        try inline.env.read { txn in
            for seq in 1...last {
                universe.formUnion(try inline.entriesInLog(try Event.decoded(try txn.get(inline.log, LedgerStore.key(seq))!), in: txn))
            }
        }
        #expect(universe.count > 15)
        let entries = universe.sorted { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) }
        func answersAlike(_ stage: String) throws {
            for e in entries {
                for after in [0, last / 3, last - 5] {
                    for limit in [1, 7, Int.max] {
                        let want = try inline.sequences(e, after: after, limit: limit)
                        #expect(try deferred.sequences(e, after: after, limit: limit) == want, "\(stage): \(e) after \(after) limit \(limit)")
                    }
                }
            }
            for seq in stride(from: 1, through: last, by: 5) {
                for e in entries {
                    #expect(try deferred.isIndexed(e, seq) == inline.isIndexed(e, seq), "\(stage): \(e) at \(seq)")
                }
            }
            for t in stride(from: Micros(-1_000), through: 140_000, by: 500) {
                #expect(try deferred.sequence(atOrBefore: t) == inline.sequence(atOrBefore: t), "\(stage): time \(t)")
            }
        }
        try answersAlike("nothing indexed")
        #expect(try deferred.catchUpIndex(limit: last / 2) == last / 2)
        #expect(try deferred.unindexedCount() == last - last / 2)
        try answersAlike("half indexed")
        #expect(try deferred.catchUpIndex(known: known[...]) == last)
        #expect(try deferred.catchUpIndex() == last)
        try answersAlike("all indexed")
        func keys(_ store: LedgerStore, _ db: KeyPath<LedgerStore, Database>) throws -> [[UInt8]] {
            try store.env.read { txn in
                var out: [[UInt8]] = []
                try txn.scan(store[keyPath: db]) { k, _ in out.append(Array(k)); return true }
                return out
            }
        }
        #expect(try keys(deferred, \.eventIndex) == keys(inline, \.eventIndex))
        #expect(try keys(deferred, \.timeIndex) == keys(inline, \.timeIndex))
    }

    /// The writer indexes what it wrote once it is idle, and before it stops.
    @Test func writerCatchesUpTheIndex() async throws {
        let store = try LedgerStore(path: tempPath("index-writer"))
        var writer = Writer(store: store)
        func provider(_ n: Int) -> Command {
            .createProvider(uuid: String(format: "dddddddd-0000-4000-8000-%012d", n), name: "rp-\(n)", parent: nil)
        }
        for n in 0..<30 { _ = await writer.submit(provider(n), context: ctx) { _ in () } }
        #expect(try store.lastSequence() == 30)
        var waited = 0
        while try store.unindexedCount() > 0 && waited < 200 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        #expect(try store.unindexedCount() == 0, "not indexed after \(waited * 10) ms idle")
        let before = try store.lastSequence()
        for n in 30..<60 { _ = await writer.submit(provider(n), context: ctx) { _ in () } }
        writer.stop()
        #expect(try store.lastSequence() == before + 30)
        #expect(try store.unindexedCount() == 0)
        // A new writer over a tail left unindexed (a crash) catches it up.
        _ = try store.env.write { txn in
            try store.decideAndAppend(provider(60), context: ctx, time: 1, after: try store.lastSequence(txn), index: false, in: txn)
        }
        #expect(try store.unindexedCount() == 1)
        writer = Writer(store: store)
        writer.stop()
        #expect(try store.unindexedCount() == 0)
    }
}
