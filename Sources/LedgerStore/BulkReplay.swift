import Ledger
import LMDB

/// `replay` folds in memory (`InternedFold`, with its journal) and writes
/// the new data dir once, each database in key order.
///
/// Why: folding event by event into LMDB (what the live projector does,
/// `appendAndApply`) cost 92 µs an event (10.8k events/s): a third in LMDB's
/// page searches and dirty-page bookkeeping for records, undo entries and
/// index entries scattered over the trees, the rest in `apply` reading and
/// writing records through it. The interned fold journals the undo log and
/// the index entries exactly as the live projector and the writer make them
/// (InternedFold+Journal.swift), and every database is then written sorted
/// with MDB_APPEND in one transaction, so the new data dir holds either all
/// of it or nothing. A test checks that the result equals the event-by-event
/// fold's in every byte of every database.
///
/// The fold runs on two threads (`PipelinedFold`, journaled): this one
/// scans the log and reads and interns each event, the other folds and
/// journals. At 100k events (`generate`: 1,000 providers, 20,000 consumers)
/// that and the journal's own cuts (InternedFold+Journal.swift: provider
/// pieces, one buffer for the values, links without ids) took the fold from
/// 0.50-0.59 s to 0.28-0.33 s in alternating runs.
extension LogFold {
    static func foldInMemory(_ source: LedgerStore, into dest: LedgerStore, target: ReplayTarget, chunk foldChunk: Int,
                             progress: (UInt64, UInt64) -> Void, writing: () -> Void) throws -> UInt64 {
        let total = try source.lastSequence()
        return try source.env.read { txn in
            let stop = try lastSequence(of: source, in: txn, target: target, total: total)
            // On two threads: this one reads and interns, the other folds and journals.
            let pipeline = PipelinedFold(chunk: foldChunk, journaled: true, events: Int(stop))
            // The log prefix as stored (valid while the source's snapshot lives), and each event's time.
            var log: [(seq: UInt64, bytes: UnsafeRawBufferPointer)] = []
            var times: [(time: UInt64, seq: UInt64)] = []
            log.reserveCapacity(Int(stop))
            times.reserveCapacity(Int(stop))
            try txn.scan(source.log) { k, raw in
                let seq = LedgerStore.seq(k)
                guard seq <= stop else { return false }
                let time = try pipeline.apply(stored: raw, seq: seq) { event, before in
                    try dest.indexEntries(event, before: before).map { ($0.kind.rawValue, $0.id) }
                }
                log.append((seq, raw))
                times.append((UInt64(max(0, time)), seq))
                if log.count % chunk == 0 { progress(UInt64(log.count), stop) }
                return true
            }
            let fold = try pipeline.finish()
            progress(UInt64(log.count), UInt64(log.count))
            writing()
            try write(fold, log: log, times: times, into: dest)
            return UInt64(log.count)
        }
    }

    /// The last event a replay to `target` takes: for a time, the one before
    /// the first event after it (as a replay event by event stops there).
    private static func lastSequence(of source: LedgerStore, in txn: Transaction, target: ReplayTarget, total: UInt64) throws -> UInt64 {
        switch target {
        case .end: return total
        case .sequence(let s): return min(s, total)
        case .time(let t):
            var last: UInt64 = 0
            try events(of: source, in: txn) { ev, _ in
                guard ev.time <= t else { return false }
                last = ev.seq
                return true
            }
            return last
        }
    }

    /// Writes the fold into the empty `dest` in one durable transaction, each database in key order.
    private static func write(_ fold: InternedFold, log: [(seq: UInt64, bytes: UnsafeRawBufferPointer)],
                              times: [(time: UInt64, seq: UInt64)], into dest: LedgerStore) throws {
        let views = fold.storedTables()
        let (undo, index) = fold.journalOutput()
        try dest.env.write { txn in
            try txn.appending(dest.log) { put in
                var key = Keyed([])
                for (seq, raw) in log { try key.set(seq).withUnsafeBytes { try put($0, raw) } }
            }
            var history: [(prefix: [UInt8], table: Int, group: Int)] = []
            for t in Table.allCases {
                if VersionKey.colocated(t) {
                    try writeColocated(views[t.ordinal], undo[t.ordinal], into: dest.dbs[t]!, txn)
                } else if t == .providerConsumers {
                    try load(views[t.ordinal], into: dest.dbs[t]!, txn)
                    try writeLinkVersions(undo[t.ordinal], into: dest.linkVersions!, txn)
                } else {
                    try load(views[t.ordinal], into: dest.dbs[t]!, txn)
                    for (g, key) in undo[t.ordinal].keys.enumerated() {
                        history.append((HistoryKey.prefix(t, String(decoding: key, as: UTF8.self)), t.ordinal, g))
                    }
                }
            }
            // A history prefix ends in 0xFF, which no key holds: prefix order is key order.
            history.sort { a, b in b.prefix.withUnsafeBytes { InternedFold.byteOrder(a.prefix, $0) < 0 } }
            try txn.appending(dest.history) { put in
                for h in history {
                    let table = undo[h.table]
                    var key = Keyed(h.prefix)
                    for i in table.ranges[h.group] { try key.set(table.seqs[i]).withUnsafeBytes { k in try table.withValue(i) { try put(k, $0) } } }
                }
            }
            var sortedTimes = times
            if zip(times, times.dropFirst()).contains(where: { $0.time > $1.time }) { sortedTimes.sort { ($0.time, $0.seq) < ($1.time, $1.seq) } }
            try txn.appending(dest.timeIndex) { put in
                var key = Keyed([UInt8](repeating: 0, count: 8))
                for (time, seq) in sortedTimes {
                    key.bytes.withUnsafeMutableBytes { $0.storeBytes(of: time.bigEndian, as: UInt64.self) }
                    try put(key.set(seq), [])
                }
            }
            var entries = index.compactMap { e in IndexEntry.Kind(rawValue: e.kind).map { (prefix: IndexEntry($0, e.id).prefix, seqs: e.seqs) } }
            entries.sort { a, b in b.prefix.withUnsafeBytes { InternedFold.byteOrder(a.prefix, $0) < 0 } }
            try txn.appending(dest.eventIndex) { put in
                for e in entries {
                    var key = Keyed(e.prefix)
                    for seq in e.seqs { try put(key.set(seq), []) }
                }
            }
            try txn.put(dest.meta, LedgerStore.indexedKey, LedgerStore.key(log.last?.seq ?? 0))
        }
    }

    /// Appends records already in key order to an empty database.
    private static func load(_ records: [InternedFold.Record], into db: Database, _ txn: Transaction) throws {
        try txn.appending(db) { put in
            for r in records { try put(r.key, r.value) }
        }
    }

    /// The links' undo entries (`LinkVersionKey`), which the journal gives in their order: by sequence, then link key.
    private static func writeLinkVersions(_ undo: JournalTable, into db: Database, _ txn: Transaction) throws {
        try txn.appending(db) { put in
            for i in undo.keys.indices { try (LedgerStore.key(undo.seqs[i]) + undo.keys[i]).withUnsafeBytes { k in try undo.withValue(i) { try put(k, $0) } } }
        }
    }

    /// A table whose undo entries sit beside its records (`VersionKey`): each
    /// record, then its versions newest first. When no key is a prefix of
    /// another (uuids), that is a merge of the records and the undo groups,
    /// both sorted; otherwise everything is sorted as one list.
    private static func writeColocated(_ records: [InternedFold.Record], _ undo: JournalTable, into db: Database, _ txn: Transaction) throws {
        func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { b.withUnsafeBytes { InternedFold.byteOrder(a, $0) < 0 } }
        let groups = undo.keys.indices.sorted { less(undo.keys[$0], undo.keys[$1]) }
        func versions(_ g: Int, _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) rethrows {
            var key = Keyed(undo.keys[g] + [VersionKey.mark])
            for i in undo.ranges[g].reversed() { try undo.withValue(i) { try body(key.set(~undo.seqs[i]), $0) } }
        }
        // The keys in merged order; a key that is a prefix of the next breaks the merge's order.
        func merged(_ body: (_ record: Int?, _ group: Int?) throws -> Void) rethrows {
            var i = 0, g = 0
            while i < records.count || g < groups.count {
                let c = i == records.count ? 1 : g == groups.count ? -1
                    : undo.keys[groups[g]].withUnsafeBytes { InternedFold.byteOrder(records[i].key, $0) }
                try body(c <= 0 ? i : nil, c >= 0 ? groups[g] : nil)
                if c <= 0 { i += 1 }
                if c >= 0 { g += 1 }
            }
        }
        var previous: [UInt8]?
        var prefixed = false
        merged { r, g in
            let key = r.map { records[$0].key } ?? undo.keys[g!]
            if let p = previous, key.count > p.count, key.starts(with: p) { prefixed = true }
            previous = key
        }
        try txn.appending(db) { put in
            if !prefixed {
                try merged { r, g in
                    if let r { try put(records[r].key, records[r].value) }
                    if let g { try versions(g) { k, v in try k.withUnsafeBytes { try put($0, v) } } }
                }
                return
            }
            var all = records
            for g in groups { versions(g) { all.append(($0, Array($1))) } }
            all.sort { less($0.key, $1.key) }
            for r in all { try put(r.key, r.value) }
        }
    }
}

/// Keys that are a prefix and then a big-endian number, built in one buffer
/// (a bulk load writes millions of them).
private struct Keyed {
    var bytes: [UInt8]
    private let at: Int

    init(_ prefix: [UInt8]) {
        bytes = prefix + [UInt8](repeating: 0, count: 8)
        at = prefix.count
    }

    /// The key ending in `n`.
    mutating func set(_ n: UInt64) -> [UInt8] {
        let at = self.at
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: n.bigEndian, toByteOffset: at, as: UInt64.self) }
        return bytes
    }
}
