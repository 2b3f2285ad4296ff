import Ledger
import LMDB

/// `replay` folds in memory and writes the new data dir once, each
/// database in key order.
///
/// Why: folding event by event into LMDB (what the live projector does,
/// `appendAndApply`) cost 92 µs an event (10.8k events/s): a third in LMDB's
/// page searches and dirty-page bookkeeping for records, undo entries and
/// index entries scattered over the trees, the rest in reading records back
/// through it. Here the same `apply` folds into `ReplayViews`, which
/// records the undo log exactly as `RecordingViewStore` does; the index
/// entries are worked out as the writer's are; and every database is then
/// written sorted with MDB_APPEND in one transaction, so the new data dir
/// holds either all of it or nothing. A test checks that the result equals
/// the event-by-event fold's in every byte of every database.
extension LogFold {
    /// Everything a replay writes besides the views, collected as it folds.
    struct Collected {
        /// The log prefix: sequence and stored bytes, valid while the source's snapshot lives.
        var log: [(seq: UInt64, bytes: UnsafeRawBufferPointer)] = []
        /// time index keys (time, sequence).
        var times: [[UInt8]] = []
        /// event index keys.
        var index: [[UInt8]] = []
    }

    static func foldInMemory(_ source: LedgerStore, into dest: LedgerStore, target: ReplayTarget,
                             progress: (UInt64, UInt64) -> Void, writing: () -> Void) throws -> UInt64 {
        let total = try source.lastSequence()
        let shown: UInt64 = switch target {
        case .sequence(let s): min(s, total)
        default: total
        }
        return try source.env.read { txn in
            let views = ReplayViews()
            var out = Collected()
            try events(of: source, in: txn) { ev, raw in
                switch target {
                case .sequence(let s) where ev.seq > s: return false
                case .time(let t) where ev.time > t: return false
                default: break
                }
                out.log.append((ev.seq, raw))
                views.begin(ev.seq)
                let entries = try dest.indexEntries(ev, before: Views(views))
                try apply(ev, to: Views(views))
                out.times.append(LedgerStore.key(UInt64(max(0, ev.time))) + LedgerStore.key(ev.seq))
                for entry in entries {
                    // As `writeIndex`: a changed provider or consumer record is found through its undo key.
                    if let table = entry.recordTable, views.changedInThisEvent(table, entry.id) { continue }
                    out.index.append(entry.key(ev.seq))
                }
                if out.log.count % chunk == 0 { progress(UInt64(out.log.count), shown) }
                return true
            }
            // Done (a replay to a time ends short of the source's last event: the bar ends full).
            progress(UInt64(out.log.count), UInt64(out.log.count))
            writing()
            try write(views, out, into: dest)
            return UInt64(out.log.count)
        }
    }

    /// Writes the fold into the empty `dest` in one durable transaction.
    private static func write(_ views: ReplayViews, _ out: Collected, into dest: LedgerStore) throws {
        try dest.env.write { txn in
            try txn.appending(dest.log) { put in
                for (seq, raw) in out.log { try LedgerStore.key(seq).withUnsafeBytes { try put($0, raw) } }
            }
            var history: [Record] = []
            for t in Table.allCases {
                var records = views.tables[t.ordinal].map { (key: Array($0.key.utf8), value: $0.value) }
                for u in views.undo where u.table == t.ordinal {
                    if VersionKey.colocated(t) {
                        records.append((VersionKey.of(u.key, u.seq), u.value))
                    } else {
                        history.append((HistoryKey.versioned(t, u.key, u.seq), u.value))
                    }
                }
                try load(&records, into: dest.dbs[t]!, txn)
            }
            try load(&history, into: dest.history, txn)
            var times = out.times.map { (key: $0, value: [UInt8]()) }
            try load(&times, into: dest.timeIndex, txn)
            var index = out.index.map { (key: $0, value: [UInt8]()) }
            try load(&index, into: dest.eventIndex, txn)
            try txn.put(dest.meta, LedgerStore.indexedKey, LedgerStore.key(out.log.last?.seq ?? 0))
        }
    }

    typealias Record = (key: [UInt8], value: [UInt8])

    /// Sorts records by key bytes (LMDB's order) and appends them to an empty database.
    private static func load(_ records: inout [Record], into db: Database, _ txn: Transaction) throws {
        let before: (Record, Record) -> Bool = { a, b in b.key.withUnsafeBytes { InternedFold.byteOrder(a.key, $0) < 0 } }
        if zip(records, records.dropFirst()).contains(where: { !before($0, $1) }) { records.sort(by: before) }
        try txn.appending(db) { put in
            for r in records {
                try r.key.withUnsafeBytes { k in try r.value.withUnsafeBytes { v in try put(k, v) } }
            }
        }
    }
}

/// The views of a replay, in memory, in their stored form. Writes record
/// the undo log as the live projector's `RecordingViewStore` does: the first
/// change of a record within an event stores its value before the event.
final class ReplayViews: ViewStore {
    /// Records by `Table.ordinal`.
    private(set) var tables = [[String: [UInt8]]](repeating: [:], count: Table.allCases.count)
    /// Undo entries in the order written: the previous value is 1 + its bytes, or 0 when absent.
    private(set) var undo: [(table: Int, key: String, seq: UInt64, value: [UInt8])] = []
    private var seq: UInt64 = 0
    /// Where the undo entries of the event being folded start.
    private var eventStart = 0

    /// Starts folding event `seq`.
    func begin(_ seq: UInt64) {
        self.seq = seq
        eventStart = undo.count
    }

    /// Whether the event being folded changed this record (holds an undo entry for it).
    func changedInThisEvent(_ table: Table, _ key: String) -> Bool {
        undo[eventStart...].contains { $0.table == table.ordinal && $0.key == key }
    }

    func get(_ table: Table, _ key: String) throws -> [UInt8]? { tables[table.ordinal][key] }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        // Only class renames and re-parenting scan, as with MemoryViewStore.
        tables[table.ordinal].filter { $0.key.hasPrefix(prefix) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    private func remember(_ table: Table, _ key: String, old: [UInt8]?) {
        if changedInThisEvent(table, key) { return }
        undo.append((table.ordinal, key, seq, old.map { [1] + $0 } ?? [0]))
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        let old = tables[table.ordinal][key]
        if old == value { return }
        remember(table, key, old: old)
        tables[table.ordinal][key] = value
    }

    func delete(_ table: Table, _ key: String) throws {
        guard let old = tables[table.ordinal][key] else { return }
        remember(table, key, old: old)
        tables[table.ordinal][key] = nil
    }
}
