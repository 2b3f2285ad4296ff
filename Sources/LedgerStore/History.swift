import Foundation
import Ledger
import LMDB
import PlacementJSON

/// Point-in-time reads without replay: the projector keeps an undo log.
///
/// The first time an event changes a view record, the record's previous
/// value (or its absence) is stored under (table, key, sequence). The value
/// of a record as of sequence N is then the previous value stored by the
/// first change after N, or the current value if nothing changed it after N:
/// one B-tree seek, whatever the depth. Which keys existed at N (for scans)
/// follows from the same log: a key that ever existed is either current or
/// has an undo entry, so an as-of scan looks at the current keys and the
/// keys of the undo log under the prefix (one seek per key, skipping its
/// versions), and keeps those whose value as of N exists.
///
/// Why not checkpoints every K events: a checkpoint copies the whole
/// projection, so a million events would hold a million/K copies of every
/// provider, and an as-of read would still fold up to K events. The undo log
/// stores only what changed, and reads cost a seek per record.
///
/// Earlier builds also kept a `lifetimes` table (table, key, created) ->
/// deleted; it said nothing the undo log does not, and each write paid for
/// it with random B-tree pages, so it is no longer written or read.
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

/// Providers and consumers keep their undo entries beside the records
/// themselves, in the table's own B-tree: the key of a record, 0xFF, and the
/// bitwise complement of the sequence (big-endian), so a record's newest
/// previous value sorts right after the record and the change usually
/// dirties one leaf page where two B-trees cost two. Their keys are uuids
/// (one length, so no key is a prefix of another and versions stay
/// adjacent). Provider links keep theirs in `linkVersions` (`LinkVersionKey`),
/// every other table in `history`.
enum VersionKey {
    static let mark: UInt8 = 0xFF  // never in UTF-8: no record key holds it

    static func colocated(_ table: Table) -> Bool {
        table == .providers || table == .consumers
    }

    static func of(_ key: String, _ seq: UInt64) -> [UInt8] {
        var k = Array(key.utf8)
        k.append(mark)
        return k + LedgerStore.key(~seq)
    }

    /// The prefix every version of `key` shares.
    static func prefix(_ key: String) -> [UInt8] { Array(key.utf8) + [mark] }

    /// Where the versions of the record whose key is `base` end.
    static func past(_ base: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: base.count + 10) { out, count in
            if let from = base.baseAddress { out.baseAddress!.initialize(from: from.assumingMemoryBound(to: UInt8.self), count: base.count) }
            (out.baseAddress! + base.count).initialize(repeating: 0xFF, count: 9)
            out[base.count + 9] = 0
            count = base.count + 10
        }
    }

    /// The record key of a version key, or nil for a record's own key.
    static func base(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let base = raw.baseAddress, let at = memchr(base, Int32(mark), raw.count) else { return nil }
        return UnsafeRawBufferPointer(start: base, count: UnsafeRawPointer(at) - base)
    }

    /// The sequence of a version key.
    static func seq(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        ~LedgerStore.seq(UnsafeRawBufferPointer(rebasing: raw[(raw.count - 8)...]))
    }
}

/// The undo entries of provider links (`providerConsumers`, key provider
/// \0 consumer): the sequence (big-endian), then the link's key. Format 3
/// kept them beside the links, where they spread each provider's few live
/// links over the leaves of every link it ever had: under the mixed load a
/// commit wrote one leaf for nearly every link it changed, 42% of its pages
/// (tools/commit-pages.py). Keyed by sequence they are appended at the end
/// of one tree: 6% of a commit's pages in the same trace on format 4.
///
/// As-of reads find them through the record versions beside them: a link
/// changes only in `replaceAllocations` (Apply.swift), which then also
/// changes the consumer's record (its allocations and generation, or its
/// removal) and the provider's (its usages change whenever a link is made or
/// dropped, since every allocation holds at least 1). So the consumer's
/// versions name every event that changed one of its links, and the
/// provider's every event that changed one of its own.
enum LinkVersionKey {
    static func of(_ seq: UInt64, _ key: String) -> [UInt8] { LedgerStore.key(seq) + Array(key.utf8) }

    /// The link key of an entry.
    static func link(_ raw: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[8...]), as: UTF8.self)
    }
}

/// The live projection's store: writes go to the views and, first, into the
/// undo log, stamped with the event being folded.
final class RecordingViewStore: ViewStore {
    let target: any FoldTarget
    let base: any ViewStore
    let dbs: TableDatabases
    let history: Database
    let links: Database
    /// The event being folded: set it before the first change, and use one
    /// recorder per event.
    var seq: UInt64 = 0

    init(target: any FoldTarget, dbs: TableDatabases, history: Database, links: Database) {
        self.target = target
        base = target.views
        self.dbs = dbs
        self.history = history
        self.links = links
    }

    /// A record this event has read or written.
    private struct RecordKey: Hashable {
        let table: Table
        let key: String
    }

    /// What the views hold now for each record this event has read or
    /// written (nil: absent). `apply` reads a record, then writes it; the
    /// write needs the value before it for the undo entry, and this saves
    /// asking LMDB for it again. Every write of the event comes through here.
    private var current = SmallMap<RecordKey, [UInt8]?>()

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        let record = RecordKey(table: table, key: key)
        if let known = current[record] { return known }
        let value = try base.get(table, key)
        current[record] = .some(value)
        return value
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] { try base.scan(table, prefix: prefix) }

    /// The records this event has changed so far (their undo entries are written).
    private var remembered = SmallMap<RecordKey, Void>()

    private func remember(_ table: Table, _ key: String, old: [UInt8]?) throws {
        // Only the first change of a record within an event holds its value before the event.
        guard remembered.add(RecordKey(table: table, key: key), ()) else { return }
        let (db, k) = VersionKey.colocated(table) ? (dbs[table]!, VersionKey.of(key, seq))
            : table == .providerConsumers ? (links, LinkVersionKey.of(seq, key))
            : (history, HistoryKey.versioned(table, key, seq))
        try target.put(db, k, old.map { [1] + $0 } ?? [0], append: false)
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        let old = try get(table, key)
        if old == value { return }
        try remember(table, key, old: old)
        try base.put(table, key, value)
        current[RecordKey(table: table, key: key)] = .some(value)
    }

    func delete(_ table: Table, _ key: String) throws {
        guard let old = try get(table, key) else { return }
        try remember(table, key, old: old)
        try base.delete(table, key)
        current[RecordKey(table: table, key: key)] = .some(nil)
    }
}

/// The projection as it stood right after event `sequence`, read from the
/// current views plus the undo log. Read-only.
struct AsOfViewStore: ViewStore {
    let base: LMDBViewStore
    let history: Database
    /// `linkVersions`; nil in a data dir of an older format opened read-only
    /// (its tools read the log and the current views only).
    let links: Database?
    let sequence: UInt64

    /// An undo entry's value: 1 and the record's bytes, or 0 when it was absent.
    private static func before<C: Collection<UInt8>>(_ v: C) -> [UInt8]? { v.first == 1 ? Array(v.dropFirst()) : nil }

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        var found: [UInt8]??
        let take: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool = { _, v in
            found = .some(Self.before(v))
            return false
        }
        if table == .providerConsumers, let links, let sep = key.firstIndex(of: "\u{0}") {
            // The consumer's changes after N, oldest first: the first that changed this link holds its value before.
            let consumer = String(key[key.index(after: sep)...])
            try base.txn.scan(base.dbs[.consumers]!, prefix: VersionKey.prefix(consumer), from: VersionKey.of(consumer, sequence + 1),
                              reverse: true) { k, _ in
                guard let v = try base.txn.get(links, LinkVersionKey.of(VersionKey.seq(k), key)) else { return true }
                found = .some(Self.before(v))
                return false
            }
        } else if VersionKey.colocated(table) {
            // Newest first: the last version at or below ~(N+1) is the first change after N.
            let prefix = VersionKey.prefix(key)
            try base.txn.scan(base.dbs[table]!, prefix: prefix, from: VersionKey.of(key, sequence + 1), reverse: true, take)
        } else {
            let prefix = HistoryKey.prefix(table, key)
            try base.txn.scan(history, prefix: prefix, from: prefix + LedgerStore.key(sequence + 1), take)
        }
        if let found { return found }
        return try base.get(table, key)
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        if table == .providerConsumers, let links { return try scanLinks(prefix: prefix, links) }
        if VersionKey.colocated(table) {
            // The records now and every record with a version: whatever existed at some point.
            var keys = Set<String>()
            try base.txn.walk(base.dbs[table]!, prefix: Array(prefix.utf8)) { k, _ in
                guard let b = VersionKey.base(k) else {
                    keys.insert(String(decoding: k, as: UTF8.self))
                    return .next
                }
                keys.insert(String(decoding: b, as: UTF8.self))
                return .seek(VersionKey.past(b))
            }
            let ordered = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return try ordered.compactMap { k in try get(table, k).map { (k, $0) } }
        }
        var keys = Set(try base.scan(table, prefix: prefix).map(\.key))
        let tableLength = table.rawValue.utf8.count
        let start = Array(table.rawValue.utf8) + [0] + Array(prefix.utf8)
        var from = start
        while true {
            var next: String?
            try base.txn.scan(history, prefix: start, from: from) { k, _ in
                next = HistoryKey.parse(k, tableLength: tableLength)?.key
                return false
            }
            guard let key = next else { break }
            keys.insert(key)
            // Past every version of this key: its prefix, then more than any sequence.
            from = HistoryKey.prefix(table, key) + [UInt8](repeating: 0xFF, count: 9)
        }
        let ordered = keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return try ordered.compactMap { k in try get(table, k).map { (k, $0) } }
    }

    /// Links under `prefix` as of N: the links now, with the undo entries of
    /// every event after N taken back, newest first. For one provider's links
    /// (the prefix the views read) those events are the provider's versions
    /// after N; for any other prefix, every link entry after N.
    private func scanLinks(prefix: String, _ links: Database) throws -> [(key: String, value: [UInt8])] {
        var state: [String: [UInt8]] = [:]
        for (k, v) in try base.scan(.providerConsumers, prefix: prefix) { state[k] = v }
        let sep = prefix.firstIndex(of: "\u{0}")
        if let sep, prefix.index(after: sep) == prefix.endIndex {
            let provider = String(prefix[..<sep])
            var seqs: [UInt64] = []
            try base.txn.scan(base.dbs[.providers]!, prefix: VersionKey.prefix(provider)) { k, _ in
                let s = VersionKey.seq(k)
                guard s > sequence else { return false }
                seqs.append(s)
                return true
            }
            for s in seqs {
                try base.txn.scan(links, prefix: LinkVersionKey.of(s, prefix)) { k, v in
                    state[LinkVersionKey.link(k)] = Self.before(v)
                    return true
                }
            }
        } else {
            // Oldest first as stored; taken back newest first.
            var entries: [(link: String, before: [UInt8]?)] = []
            try base.txn.scan(links, from: LedgerStore.key(sequence + 1)) { k, v in
                let link = LinkVersionKey.link(k)
                if link.utf8.starts(with: prefix.utf8) { entries.append((link, Self.before(v))) }
                return true
            }
            for e in entries.reversed() { state[e.link] = e.before }
        }
        return state.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws { throw AsOfError.readOnly }
    func delete(_ table: Table, _ key: String) throws { throw AsOfError.readOnly }
}

enum AsOfError: Error { case readOnly }
