import Ledger
import LMDB

/// The event index (events by consumer, provider, project, user, class,
/// type) and the time index are written behind the log, not in the commit
/// that answers a write.
///
/// Why: they are audit structures, not views a GET of the Placement API
/// reads, and each event added entries at five or more places in two
/// B-trees (a class, a project, a user, a type, the time), every one a page
/// the commit had to write and fsync. On this machine's disk, a build that
/// skipped them served 12-25% more durable PUTs per second. The writer folds them
/// in every `Writer.indexLag` events in one transaction, where the pages
/// they dirty are shared by hundreds of events.
///
/// Nothing is lost or hidden by the delay. `meta` holds `indexed`, the
/// last sequence the indexes hold, committed with them; a crash leaves it
/// where it was and the writer catches up after the next start. Every
/// reader merges the indexes with the log past `indexed` (the tail), whose
/// entries it works out the same way the indexer will, from the views as
/// they stood before each event (the undo log), so an audit query sees
/// every event of its snapshot whether or not it is indexed yet.
extension LedgerStore {
    static let indexedKey = Array("indexed".utf8)

    /// The last sequence the event and time indexes hold in `txn`'s snapshot.
    func indexedThrough(_ txn: Transaction) throws -> UInt64 {
        guard let raw = try txn.get(meta, LedgerStore.indexedKey) else {
            // Opened read-only and written by a build that indexed inline.
            return try lastSequence(txn)
        }
        return raw.withUnsafeBytes { LedgerStore.seq($0) }
    }

    /// How many events of the log are not indexed yet.
    public func unindexedCount() throws -> UInt64 {
        try env.read { txn in try lastSequence(txn) - indexedThrough(txn) }
    }

    /// Runs `body` (which appends with `index: true`) and moves `indexed`
    /// along with it when nothing was pending before.
    func indexingInline<T>(_ txn: Transaction, _ body: () throws -> T) throws -> T {
        let before = try lastSequence(txn)
        let indexed = try indexedThrough(txn)
        let result = try body()
        if indexed == before { try txn.put(meta, LedgerStore.indexedKey, LedgerStore.key(try lastSequence(txn))) }
        return result
    }

    /// Writes one event's entries. An event that changed a provider's or a
    /// consumer's record is found through that record's undo-log key
    /// (`sequences`); an entry for it would only cost another page.
    func writeIndex(_ seq: UInt64, _ time: Micros, _ entries: [IndexEntry], in txn: Transaction) throws {
        try txn.put(timeIndex, LedgerStore.key(UInt64(max(0, time))) + LedgerStore.key(seq), [])
        for entry in entries {
            if try changedRecord(entry, seq, in: txn) { continue }
            try txn.put(eventIndex, entry.key(seq), [])
        }
    }

    /// Whether event `seq` changed the record `entry` names (its undo key exists).
    func changedRecord(_ entry: IndexEntry, _ seq: UInt64, in txn: Transaction) throws -> Bool {
        guard let table = entry.recordTable else { return false }
        return try txn.get(dbs[table]!, VersionKey.of(entry.id, seq)) != nil
    }

    /// The entries of an event already in the log, from the views as they
    /// stood right before it.
    func entriesInLog(_ event: Event, in txn: Transaction) throws -> [IndexEntry] {
        let before = AsOfViewStore(base: LMDBViewStore(txn: txn, dbs: dbs), history: history, links: linkVersions, sequence: event.seq - 1)
        return try indexEntries(event, before: Views(before))
    }

    /// Indexes up to `limit` events past `indexed`, in one durable
    /// transaction, and returns the last sequence the indexes then hold.
    /// `known` are entries the writer worked out as it folded those events
    /// (oldest first); any other event's entries come from the log and the
    /// views as they stood before it.
    @discardableResult
    func catchUpIndex(limit: UInt64 = 4096, known: ArraySlice<PendingIndex> = []) throws -> UInt64 {
        try env.write { txn in
            let from = try indexedThrough(txn)
            let to = min(try lastSequence(txn), from + limit)
            guard to > from else { return from }
            var known = known.drop { $0.seq <= from }
            var seq = from + 1
            while seq <= to, let k = known.first, k.seq == seq {
                try writeIndex(seq, k.time, k.entries, in: txn)
                known = known.dropFirst()
                seq += 1
            }
            if seq <= to {
                try txn.scan(log, from: LedgerStore.key(seq)) { _, v in
                    let ev = try Event.decoded(v)
                    guard ev.seq <= to else { return false }
                    try writeIndex(ev.seq, ev.time, try entriesInLog(ev, in: txn), in: txn)
                    return ev.seq < to
                }
            }
            try txn.put(meta, LedgerStore.indexedKey, LedgerStore.key(to))
            return to
        }
    }

    /// Calls `body` with each event of the tail (past `indexed`, oldest
    /// first) and its entries, until it returns false.
    func forEachUnindexed(in txn: Transaction, from: UInt64 = 0,
                          _ body: (Event, [IndexEntry]) throws -> Bool) throws {
        let start = max(try indexedThrough(txn), from) + 1
        try txn.scan(log, from: LedgerStore.key(start)) { _, v in
            let ev = try Event.decoded(v)
            return try body(ev, try entriesInLog(ev, in: txn))
        }
    }
}

/// One event's index entries, worked out by the writer as it folded the
/// event and written by a later `catchUpIndex`.
struct PendingIndex {
    let seq: UInt64
    let time: Micros
    let entries: [IndexEntry]
}
