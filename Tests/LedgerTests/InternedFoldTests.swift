import Foundation
import Testing
@testable import Ledger

/// `verify` folds with `InternedFold`, the live projector with `apply`: the
/// two must make the same bytes in every table, from every log.
@Suite struct InternedFoldTests {
    /// Random commands (with class renames and reshapes mixed in), decided and
    /// applied in memory; at checkpoints the interned fold of the events so
    /// far, read from their stored bytes, equals the views `apply` made.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func foldsEveryLogToTheViewsApplyMakes(seed: UInt64) throws {
        let ledger = Ledgerish()
        var rng = SeededRandom(state: seed)
        var fold = InternedFold()
        var folded = 0
        var types = Set<String>()
        for step in 0..<600 {
            let generation: (String) -> Int64 = { uuid in (try? ledger.views.provider(uuid)?.generation) ?? nil ?? 0 }
            switch step % 37 {
            case 11: _ = try ledger.run(.renameResourceClass(from: "CUSTOM_GPU", to: "CUSTOM_GPU_RENAMED"))
            case 23: _ = try ledger.run(.renameResourceClass(from: "CUSTOM_GPU_RENAMED", to: "CUSTOM_GPU"))
            case 30: _ = try ledger.run(randomReshape(&rng, generation: generation))
            default: _ = try ledger.run(randomCommand(&rng, generation: generation))
            }
            for e in ledger.events[folded...] {
                types.insert(e.payload.type)
                try e.encoded().withUnsafeBytes { try fold.apply(stored: $0) }
            }
            folded = ledger.events.count
            if step % 25 == 0 || step == 599 {
                let diffs = differences(ledger.store, fold.views())
                #expect(diffs.isEmpty, "seed \(seed) step \(step): \(diffs.prefix(3))")
                if !diffs.isEmpty { return }
            }
        }
        #expect(fold.readFast == ledger.events.filter { $0.payload.type.hasPrefix("Allocations") }.count)
        // On two threads, handing over a few events at a time, with the other events between.
        let pipeline = PipelinedFold(chunk: [1, 3, 7, 64][Int(seed - 1)])
        for e in ledger.events { try e.encoded().withUnsafeBytes { try pipeline.apply(stored: $0) } }
        let piped = try pipeline.finish()
        #expect(piped.count == fold.count && piped.readFast == fold.readFast)
        let diffs = differences(ledger.store, piped.views())
        #expect(diffs.isEmpty, "seed \(seed), pipelined: \(diffs.prefix(3))")
        #expect(types.isSuperset(of: ["AllocationsReplaced", "AllocationsDeleted", "ResourceClassRenamed", "Reshaped",
                                      "ResourceProviderUpdated", "ResourceProviderDeleted", "InventoriesReplaced"]), "\(types.sorted())")
    }

    /// An interner takes another's new keys (`Interner.Tail`) with their ids,
    /// indexed at once or later (`indexAll`), across the growth of its table.
    @Test func internersCatchUpByTails() {
        var ahead = Interner(), indexedAtOnce = Interner(), indexedLater = Interner()
        let keys = (0..<3000).map { String(format: "cccccccc-0000-4000-8000-%012d", $0 * 7) }
        var sent = 0
        for (n, k) in keys.enumerated() {
            _ = ahead.id(k)
            if n % 500 == 499 || n == keys.count - 1 {
                indexedAtOnce.take(ahead.tail(from: sent))
                indexedLater.take(ahead.tail(from: sent), indexing: false)
                sent = ahead.count
            }
        }
        indexedLater.indexAll()
        for (n, k) in keys.enumerated() {
            #expect(indexedAtOnce.existing(k) == Int32(n) && indexedLater.existing(k) == Int32(n))
            #expect(indexedLater.string(Int32(n)) == k)
        }
        #expect(indexedLater.existing("c") == nil && indexedLater.count == keys.count)
        #expect(indexedLater.id("new") == Int32(keys.count))
        // Few enough keys to be placed in the table it has.
        var few = Interner()
        let all = ahead.tail(from: 0)
        few.take(Interner.Tail(bytes: Array(all.bytes[..<all.ends[299]]), ends: Array(all.ends[..<300])), indexing: false)
        few.indexAll()
        #expect(few.count == 300 && keys.prefix(300).enumerated().allSatisfy { few.existing($1) == Int32($0) })
    }

    /// Events in forms the fast reader does not take (Foundation's key order
    /// and escapes, an escaped uuid, spaces) fold the same as the stored form.
    @Test func otherFormsOfAnEventFoldTheSame() throws {
        let ledger = Ledgerish()
        for i in 0..<4 {
            let p = String(format: "aaaaaaaa-0000-4000-8000-%012d", i)
            try ledger.accept(.createProvider(uuid: p, name: "rp-\(i)", parent: nil))
            try ledger.accept(.setInventories(provider: p, generation: 0, inventories: ["VCPU", "MEMORY_MB", "DISK_GB"].map {
                ($0, InventoryRecord(total: 1000))
            }, reservedMayEqualTotal: true))
        }
        var rng = SeededRandom(state: 9)
        for _ in 0..<300 {
            let c = String(format: "cccccccc-0000-4000-8000-%012d", Int.random(in: 0..<20, using: &rng))
            let p = String(format: "aaaaaaaa-0000-4000-8000-%012d", Int.random(in: 0..<4, using: &rng))
            if Int.random(in: 0..<4, using: &rng) == 0 {
                _ = try ledger.run(.deleteAllocations(consumer: c))
            } else {
                try ledger.accept(alloc(c, [(p, [("VCPU", 1), ("DISK_GB", Int64.random(in: 1...9, using: &rng))])],
                                        project: "p/\(Int.random(in: 0..<3, using: &rng))", type: Bool.random(using: &rng) ? "INSTANCE" : nil))
            }
        }
        var stored = InternedFold(), foundation = InternedFold(), spaced = InternedFold(), decoded = InternedFold()
        // Every fifth event in a slow form, between fast ones handed over four at a time.
        let pipeline = PipelinedFold(chunk: 4)
        for (n, e) in ledger.events.enumerated() {
            try e.encoded().withUnsafeBytes { try stored.apply(stored: $0) }
            try e.encodedWithFoundation().withUnsafeBytes { try foundation.apply(stored: $0) }
            let text = String(decoding: try e.encoded(), as: UTF8.self)
                .replacingOccurrences(of: ",", with: ", ").replacingOccurrences(of: "-4000-", with: "-\\u0034000-")
            try Array(text.utf8).withUnsafeBytes { try spaced.apply(stored: $0) }
            try decoded.apply(e)
            try (n % 5 == 4 ? Array(text.utf8) : try e.encoded()).withUnsafeBytes { try pipeline.apply(stored: $0) }
        }
        let piped = try pipeline.finish()
        let allocations = ledger.events.filter { $0.payload.type.hasPrefix("Allocations") }.count
        #expect(allocations > 200)
        // The stored form is read fast; the others are not (Foundation's form is the same
        // but for its escaped `/` in every project), and fold the same.
        #expect(stored.readFast == allocations)
        #expect(foundation.readFast == ledger.events.filter { $0.payload.type == "AllocationsDeleted" }.count)
        #expect(spaced.readFast == 0)
        #expect(piped.readFast == ledger.events.enumerated().filter { n, e in n % 5 != 4 && e.payload.type.hasPrefix("Allocations") }.count)
        for other in [foundation, spaced, decoded, piped] {
            let diffs = differences(ledger.store, other.views())
            #expect(diffs.isEmpty, "\(diffs.prefix(3))")
        }
        #expect(differences(ledger.store, stored.views()).isEmpty)
    }

    /// A damaged event fails the fold, as `Event.decoded` names it.
    @Test func aDamagedEventFailsTheFold() throws {
        let ledger = Ledgerish()
        try ledger.accept(.createProvider(uuid: rp1, name: "a", parent: nil))
        try ledger.accept(.setInventories(provider: rp1, generation: 0, inventories: [("VCPU", InventoryRecord(total: 8))],
                                          reservedMayEqualTotal: true))
        try ledger.accept(alloc(c1, [(rp1, [("VCPU", 2)])]))
        var fold = InternedFold()
        for e in ledger.events.dropLast() { try e.encoded().withUnsafeBytes { try fold.apply(stored: $0) } }
        let last = try ledger.events.last!.encoded()
        #expect(throws: (any Error).self) { try Array(last.dropLast(3)).withUnsafeBytes { try fold.apply(stored: $0) } }
        let unknownVersion = String(decoding: last, as: UTF8.self).replacingOccurrences(of: "\"version\":1", with: "\"version\":7")
        #expect(throws: (any Error).self) { try Array(unknownVersion.utf8).withUnsafeBytes { try fold.apply(stored: $0) } }
        // An allocation on a provider the log never made.
        let stranger = String(decoding: last, as: UTF8.self).replacingOccurrences(of: rp1, with: rp2)
        #expect(throws: FoldError.self) { try Array(stranger.utf8).withUnsafeBytes { try fold.apply(stored: $0) } }

        // On two threads the same failures, named the same; a failure on the worker is
        // the one thrown, not a later event's. Journaled (replay's fold) the same.
        for journaled in [false, true] {
            var seq: UInt64 = 0
            func feed(_ pipeline: PipelinedFold, _ bytes: [UInt8]) throws {
                seq += 1
                try bytes.withUnsafeBytes { raw in
                    if journaled { _ = try pipeline.apply(stored: raw, seq: seq) { _, _ in [] } } else { try pipeline.apply(stored: raw) }
                }
            }
            func pipelined() throws -> PipelinedFold {
                let pipeline = PipelinedFold(chunk: 2, journaled: journaled)
                seq = 0
                for e in ledger.events.dropLast() { try feed(pipeline, try e.encoded()) }
                return pipeline
            }
            let truncated = try pipelined()
            let undecoded = #expect(throws: (any Error).self) { try feed(truncated, Array(last.dropLast(3))) }
            #expect(undecoded != nil && !(undecoded is FoldError), "journaled: \(journaled)")
            let strange = try pipelined()
            try feed(strange, Array(stranger.utf8))  // staged, not folded yet
            let thrown = #expect(throws: FoldError.self) { try feed(strange, Array(last.dropLast(3))) }
            #expect(thrown.map { "\($0)" } == "fold: provider \(rp2) is not in the views", "journaled: \(journaled)")
            let atTheEnd = try pipelined()
            try feed(atTheEnd, Array(stranger.utf8))
            #expect(throws: FoldError.self) { _ = try atTheEnd.finish() }
        }
    }

    /// Each table's records that are not the same bytes in both stores.
    func differences(_ applied: MemoryStore, _ folded: MemoryViewStore) -> [String] {
        Table.allCases.flatMap { t -> [String] in
            let a = applied.tables[t] ?? [:], b = folded.records(t)
            return Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted().map { key in
                "\(t) \(key.replacingOccurrences(of: keySep, with: "/")): applied \(a[key].map { StoredForm.describe(t, $0) } ?? "none"), "
                    + "folded \(b[key].map { StoredForm.describe(t, $0) } ?? "none")"
            }
        }
    }
}

/// A reshape of one provider's inventory that moves one consumer onto it.
func randomReshape(_ rng: inout SeededRandom, generation: (String) -> Int64) -> Command {
    let p = String(format: "aaaaaaaa-0000-4000-8000-%012d", Int.random(in: 0..<4, using: &rng))
    let c = String(format: "cccccccc-0000-4000-8000-%012d", Int.random(in: 0..<6, using: &rng))
    return .reshape(
        inventories: [(provider: p, generation: generation(p),
                       inventories: [("VCPU", InventoryRecord(total: 64)), ("MEMORY_MB", InventoryRecord(total: 4096))])],
        allocations: AllocationRequest(consumers: [
            AllocationRequest.Consumer(uuid: c, project: "p1", user: "u1", generation: .none, consumerType: "INSTANCE",
                                       allocations: [(provider: p, resources: [("VCPU", 2), ("MEMORY_MB", 512)])]),
        ], origin: .reshaper))
}
