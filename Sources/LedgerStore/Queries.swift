import Ledger
import LMDB

/// Reads of the past: the views as of any event, events by index, time to sequence.
extension LedgerStore {
    /// Runs `body` on the views as they stood right after event `sequence`
    /// (which must exist), from one snapshot.
    public func read<T>(asOf sequence: UInt64, _ body: (Views, UInt64) throws -> T) throws -> T {
        try env.read { txn in
            let store = AsOfViewStore(base: LMDBViewStore(txn: txn, dbs: dbs), history: history,
                                      sequence: sequence)
            return try body(Views(store), sequence)
        }
    }

    /// The last event at or before `time` (0 when the log starts later).
    public func sequence(atOrBefore time: Micros) throws -> UInt64 {
        try env.read { txn in
            var found: UInt64 = 0
            let bound = LedgerStore.key(UInt64(max(0, time))) + LedgerStore.key(UInt64.max)
            try txn.scan(timeIndex, from: bound, reverse: true) { k, _ in
                found = LedgerStore.seq(UnsafeRawBufferPointer(rebasing: k[8...]))
                return false
            }
            return found
        }
    }

    /// The time of one event.
    public func time(of sequence: UInt64) throws -> Micros? {
        try rawEvent(sequence).map { try Event.decoded($0).time }
    }

    /// Sequence numbers of the events indexed under `entry`, after `after`, oldest first.
    public func sequences(_ entry: IndexEntry, after: UInt64 = 0, limit: Int = .max) throws -> [UInt64] {
        try env.read { txn in
            let prefix = entry.prefix
            var out: [UInt64] = []
            try txn.scan(eventIndex, prefix: prefix, from: prefix + LedgerStore.key(after &+ 1)) { k, _ in
                out.append(LedgerStore.seq(UnsafeRawBufferPointer(rebasing: k[(k.count - 8)...])))
                return out.count < limit
            }
            return out
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
            try txn.get(eventIndex, entry.key(sequence)) != nil
        }
    }
}
