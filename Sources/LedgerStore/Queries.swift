import Ledger
import LMDB

/// Reads of the past: the views as of any event, events by index, time to sequence.
extension LedgerStore {
    /// Runs `body` on the views as they stood right after event `sequence`
    /// (which must exist), from one snapshot.
    public func read<T>(asOf sequence: UInt64, _ body: (Views, UInt64) throws -> T) throws -> T {
        try env.read { txn in
            let store = AsOfViewStore(base: LMDBViewStore(txn: txn, dbs: dbs), history: history,
                                      links: linkVersions, sequence: sequence)
            return try body(Views(store), sequence)
        }
    }

    /// The last event at or before `time` (0 when the log starts later).
    public func sequence(atOrBefore time: Micros) throws -> UInt64 {
        try env.read { txn in
            var found: (time: Micros, seq: UInt64) = (.min, 0)
            let bound = LedgerStore.key(UInt64(max(0, time))) + LedgerStore.key(UInt64.max)
            try txn.scan(timeIndex, from: bound, reverse: true) { k, _ in
                found = (Micros(LedgerStore.seq(UnsafeRawBufferPointer(rebasing: k[..<8]))),
                         LedgerStore.seq(UnsafeRawBufferPointer(rebasing: k[8...])))
                return false
            }
            // The tail, ordered as the time index orders it: by time, then sequence.
            try txn.scan(log, from: LedgerStore.key(try indexedThrough(txn) + 1)) { _, v in
                let ev = try Event.decoded(v)
                let t = max(0, ev.time)
                if t <= max(0, time), (t, ev.seq) > found { found = (t, ev.seq) }
                return true
            }
            return found.seq
        }
    }

    /// The time of one event.
    public func time(of sequence: UInt64) throws -> Micros? {
        try rawEvent(sequence).map { try Event.decoded($0).time }
    }

    /// Sequence numbers of the events indexed under `entry`, after `after`,
    /// oldest first. Events that changed a provider's or consumer's record
    /// are found by its undo-log keys, the others by the event index, and
    /// those past `indexed` by the log itself.
    public func sequences(_ entry: IndexEntry, after: UInt64 = 0, limit: Int = .max) throws -> [UInt64] {
        try env.read { txn in
            let prefix = entry.prefix
            var found: [UInt64] = []
            try txn.scan(eventIndex, prefix: prefix, from: prefix + LedgerStore.key(after &+ 1)) { k, _ in
                found.append(LedgerStore.seq(UnsafeRawBufferPointer(rebasing: k[(k.count - 8)...])))
                return found.count < limit
            }
            if let table = entry.recordTable {
                // The record's versions, newest first: walk back from the first change after `after`.
                var changed = 0
                try txn.scan(dbs[table]!, prefix: VersionKey.prefix(entry.id), from: VersionKey.of(entry.id, after &+ 1),
                             reverse: true) { k, _ in
                    found.append(VersionKey.seq(k))
                    changed += 1
                    return changed < limit
                }
            }
            // Each source is ascending and holds its first `limit`; every tail
            // event comes after every indexed one, so the tail (whose entries
            // cost an as-of fold each) is read only while fewer than `limit`
            // are found up to `indexed`.
            let indexed = try indexedThrough(txn)
            if found.lazy.filter({ $0 <= indexed }).count < limit {
                var tail = 0
                try forEachUnindexed(in: txn, from: after) { ev, entries in
                    if entries.contains(entry) {
                        found.append(ev.seq)
                        tail += 1
                    }
                    return tail < limit
                }
            }
            return Array(Set(found).sorted().prefix(limit))
        }
    }

    /// Several events by sequence number, from one snapshot.
    public func events(_ sequences: [UInt64]) throws -> [Event] {
        try env.read { txn in
            try sequences.compactMap { s in try txn.get(log, LedgerStore.key(s)).map { try Event.decoded($0) } }
        }
    }
}

extension LedgerStore {
    /// Whether event `sequence` is indexed under `entry`.
    public func isIndexed(_ entry: IndexEntry, _ sequence: UInt64) throws -> Bool {
        try env.read { txn in
            if try txn.get(eventIndex, entry.key(sequence)) != nil { return true }
            if try changedRecord(entry, sequence, in: txn) { return true }
            guard sequence > (try indexedThrough(txn)), let raw = try txn.get(log, LedgerStore.key(sequence)) else { return false }
            return try entriesInLog(try Event.decoded(raw), in: txn).contains(entry)
        }
    }
}
