import Ledger
import LMDB

/// Point-in-time reads without replay: the projector keeps an undo log.
///
/// The first time an event changes a view record, the record's previous
/// value (or its absence) is stored under (table, key, sequence). The value
/// of a record as of sequence N is then the previous value stored by the
/// first change after N, or the current value if nothing changed it after N:
/// one B-tree seek, whatever the depth. Which keys existed at N (for scans)
/// comes from their lifetimes: (table, key, created) -> deleted.
///
/// Why not checkpoints every K events: a checkpoint copies the whole
/// projection, so a million events would hold a million/K copies of every
/// provider, and an as-of read would still fold up to K events. The undo log
/// stores only what changed, and reads cost a seek per record.
enum HistoryKey {
    static let end: UInt8 = 0xFF  // never in UTF-8, so it ends a key unambiguously

    static func prefix(_ table: Table, _ key: String) -> [UInt8] {
        var k: [UInt8] = Array(table.rawValue.utf8)
        k.append(0)
        k.append(contentsOf: key.utf8)
        k.append(end)
        return k
    }

    static func versioned(_ table: Table, _ key: String, _ seq: UInt64) -> [UInt8] {
        prefix(table, key) + LedgerStore.key(seq)
    }

    /// (key, sequence) of a lifetimes/history key, given the table.
    static func parse(_ raw: UnsafeRawBufferPointer, tableLength: Int) -> (key: String, seq: UInt64)? {
        guard raw.count >= tableLength + 1 + 1 + 8 else { return nil }
        let body = raw[(tableLength + 1)...]
        guard let endIndex = body.firstIndex(of: end), raw.count - endIndex - 1 == 8 else { return nil }
        let key = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(tableLength + 1)..<endIndex]), as: UTF8.self)
        return (key, LedgerStore.seq(UnsafeRawBufferPointer(rebasing: raw[(endIndex + 1)...])))
    }
}

/// The live projection's store: writes go to the views and, first, into the
/// undo log and the lifetimes, stamped with the event being folded.
final class RecordingViewStore: ViewStore {
    let base: LMDBViewStore
    let history: Database
    let lifetimes: Database
    var seq: UInt64 = 0

    init(base: LMDBViewStore, history: Database, lifetimes: Database) {
        self.base = base
        self.history = history
        self.lifetimes = lifetimes
    }

    func get(_ table: Table, _ key: String) throws -> [UInt8]? { try base.get(table, key) }
    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] { try base.scan(table, prefix: prefix) }

    private func remember(_ table: Table, _ key: String, old: [UInt8]?) throws {
        let k = HistoryKey.versioned(table, key, seq)
        // Only the first change of a record within an event holds its value before the event.
        if try base.txn.get(history, k) == nil {
            try base.txn.put(history, k, old.map { [1] + $0 } ?? [0])
        }
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        let old = try base.get(table, key)
        if old == value { return }
        try remember(table, key, old: old)
        if old == nil { try base.txn.put(lifetimes, HistoryKey.versioned(table, key, seq), LedgerStore.key(0)) }
        try base.put(table, key, value)
    }

    func delete(_ table: Table, _ key: String) throws {
        guard let old = try base.get(table, key) else { return }
        try remember(table, key, old: old)
        // Close the current lifetime (the last one of this key).
        var current: [UInt8]?
        try base.txn.scan(lifetimes, prefix: HistoryKey.prefix(table, key), reverse: true) { k, _ in
            current = Array(k)
            return false
        }
        if let current { try base.txn.put(lifetimes, current, LedgerStore.key(seq)) }
        try base.delete(table, key)
    }
}

/// The projection as it stood right after event `sequence`, read from the
/// current views plus the undo log. Read-only.
struct AsOfViewStore: ViewStore {
    let base: LMDBViewStore
    let history: Database
    let lifetimes: Database
    let sequence: UInt64

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        var found: [UInt8]??
        let prefix = HistoryKey.prefix(table, key)
        try base.txn.scan(history, prefix: prefix, from: prefix + LedgerStore.key(sequence + 1)) { _, v in
            found = .some(v.first == 1 ? Array(v.dropFirst()) : nil)
            return false
        }
        if let found { return found }
        return try base.get(table, key)
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        var keys: [String] = []
        let tableLength = table.rawValue.utf8.count
        try base.txn.scan(lifetimes, prefix: Array(table.rawValue.utf8) + [0] + Array(prefix.utf8)) { k, v in
            guard let (key, created) = HistoryKey.parse(k, tableLength: tableLength) else { return true }
            let deleted = LedgerStore.seq(v)
            if created <= sequence && (deleted == 0 || deleted > sequence) { keys.append(key) }
            return true
        }
        return try keys.compactMap { k in try get(table, k).map { (k, $0) } }
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws { throw AsOfError.readOnly }
    func delete(_ table: Table, _ key: String) throws { throw AsOfError.readOnly }
}

enum AsOfError: Error { case readOnly }
