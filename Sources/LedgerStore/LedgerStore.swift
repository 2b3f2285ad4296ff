import Foundation
import Ledger
import LMDB
import PlacementJSON

/// The ledger on disk: the immutable event log and the projection folded
/// from it, in one LMDB environment (the data dir).
///
/// Layout (named LMDB databases):
/// - `log`: big-endian sequence number -> event (JSON). Append-only.
/// - `meta`: `format` -> on-disk format version; `indexed` -> the last
///   sequence the event and time indexes hold (Indexer.swift).
/// - one database per `Table` of the projection.
public final class LedgerStore: @unchecked Sendable {
    /// Written into `meta` at creation; a data dir of another format is refused.
    /// 2: long key parts hashed (KeyPart), the empty provider name storable.
    /// 3: the undo entries of providers, consumers and provider allocations
    ///    beside their records (`VersionKey`).
    /// 4: those of provider allocations in `linkVersions`, by sequence (`LinkVersionKey`).
    public static let formatVersion = "4"
    /// Older formats whose log `replay` (and `verify`, `events`) still read.
    static let olderReadableFormats: Set<String> = ["2", "3"]

    public let env: Environment
    let log: Database
    let meta: Database
    let dbs: TableDatabases
    /// The undo log behind as-of reads (History.swift); `lifetimes` is only
    /// opened so data dirs written by earlier builds keep their layout.
    let history: Database
    let lifetimes: Database
    /// The undo entries of provider links (History.swift, `LinkVersionKey`);
    /// nil only in an older format's data dir opened read-only.
    let linkVersions: Database?
    /// time (µs, big-endian) + sequence -> "": the event at or before an instant.
    let timeIndex: Database
    /// kind \0 id 0xFF sequence -> "": events by consumer, provider, project, user, class, type.
    let eventIndex: Database
    public let path: String

    /// Opens or creates the data dir at `path`.
    /// - Parameter mapSize: address space reserved for the file (it grows
    ///   only with what is written). 64 GiB, because growing the map stops
    ///   every transaction for the remap and then faults every page back in:
    ///   the soak showed a pause each time a 1 GiB map doubled.
    /// - Parameter olderFormat: read-only opens for replay, verify and
    ///   events may take a data dir of an older format (they need its log
    ///   and its current views, which every format keeps alike).
    public init(path: String, readOnly: Bool = false, mapSize: Int = 1 << 36, olderFormat: Bool = false) throws {
        let fm = FileManager.default
        if !readOnly { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) }
        guard fm.fileExists(atPath: path) else { throw StoreError.noDataDir(path) }
        self.path = path
        do {
            env = try Environment(path: path, mapSize: mapSize, maxDatabases: Table.allCases.count + 8,
                                  readOnly: readOnly)
        } catch let e as LMDBError where e.isInvalid {
            throw StoreError.notALedger(path, e.description)
        }
        log = try env.database("log", create: !readOnly)
        meta = try env.database("meta", create: !readOnly)
        let env = env
        dbs = try TableDatabases { try env.database($0.rawValue, create: !readOnly) }
        history = try env.database("history", create: !readOnly)
        lifetimes = try env.database("lifetimes", create: !readOnly)
        linkVersions = readOnly ? try? env.database("linkVersions", create: false) : try env.database("linkVersions")
        timeIndex = try env.database("timeIndex", create: !readOnly)
        eventIndex = try env.database("eventIndex", create: !readOnly)
        let format = try env.read { try $0.get(meta, Array("format".utf8)) }
        if let format {
            let f = String(decoding: format, as: UTF8.self)
            guard f == LedgerStore.formatVersion || readOnly && olderFormat && LedgerStore.olderReadableFormats.contains(f) else {
                throw StoreError.format(path, f)
            }
        }
        if !readOnly {
            try env.write { txn in
                if format == nil { try txn.put(meta, Array("format".utf8), Array(LedgerStore.formatVersion.utf8)) }
                // Builds before the deferred index indexed every event as they wrote it.
                if try txn.get(meta, LedgerStore.indexedKey) == nil {
                    try txn.put(meta, LedgerStore.indexedKey, LedgerStore.key(try lastSequence(txn)))
                }
            }
        }
    }

    /// Big-endian bytes of a sequence number: log order is key order.
    static func key(_ seq: UInt64) -> [UInt8] { withUnsafeBytes(of: seq.bigEndian) { Array($0) } }
    static func seq(_ key: UnsafeRawBufferPointer) -> UInt64 {
        key.reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// Runs `body` on one consistent snapshot of the views, with the sequence
    /// number of the last event that snapshot reflects (0 for an empty log).
    public func read<T>(_ body: (Views, UInt64) throws -> T) throws -> T {
        try env.read { txn in
            let last = try lastSequence(txn)
            return try body(Views(LMDBViewStore(txn: txn, dbs: dbs)), last)
        }
    }

    func lastSequence(_ txn: Transaction) throws -> UInt64 {
        var last: UInt64 = 0
        try txn.scan(log, reverse: true) { k, _ in
            last = LedgerStore.seq(k)
            return false
        }
        return last
    }

    /// The sequence number of the newest event.
    public func lastSequence() throws -> UInt64 { try env.read { try lastSequence($0) } }

    /// Events with sequence >= `from`, oldest first, at most `limit`.
    public func events(from: UInt64 = 1, limit: Int = .max) throws -> [Event] {
        var out: [Event] = []
        try forEachEvent(from: from) { ev in
            out.append(ev)
            return out.count < limit
        }
        return out
    }

    /// Calls `body` with each event from `from` on, in one snapshot, until it returns false.
    public func forEachEvent(from: UInt64 = 1, _ body: (Event) throws -> Bool) throws {
        try env.read { txn in
            try txn.scan(log, from: LedgerStore.key(from)) { _, v in try body(try Event.decoded(v)) }
        }
    }

    /// The stored bytes of one event (for immutability checks).
    public func rawEvent(_ seq: UInt64) throws -> [UInt8]? {
        try env.read { try $0.get(log, LedgerStore.key(seq)) }
    }

    /// Appends events as they are stored elsewhere (replay: the log is
    /// copied byte for byte) and folds them into the views, all in one
    /// durable transaction. The live server goes through `Writer`.
    func appendAndApply(stored events: [(event: Event, bytes: [UInt8])]) throws {
        try env.write { txn in
            try indexingInline(txn) {
                for (ev, bytes) in events { try append(ev, stored: bytes, index: true, in: txn) }
            }
        }
    }

    /// Decides one command against the views in `txn` and, if accepted,
    /// appends and folds its events. `then` sees the views right after, with
    /// the last new sequence (nil when nothing changed). Returns the last
    /// sequence of the log afterwards, or the rejection. A fold that throws
    /// (a bug: `decide` accepted what `apply` cannot do) throws `FoldFailure`,
    /// and the caller must abort the transaction.
    func decideAndAppend(_ command: Command, context: EventContext, time: Micros, after seq: UInt64, index: Bool,
                         pending: ((PendingIndex) -> Void)? = nil, in txn: Transaction,
                         then: (Views, UInt64?) throws -> Void = { _, _ in }) throws -> Result<UInt64, Rejection> {
        try decideAndAppend(command, context: context, time: time, after: seq, index: index ? txn : nil, pending: pending,
                            into: TransactionTarget(txn: txn, dbs: dbs), then: then)
    }

    /// As above, folding into `target`; `index` is the transaction to write
    /// the event's index entries into, if any.
    func decideAndAppend(_ command: Command, context: EventContext, time: Micros, after seq: UInt64, index: Transaction?,
                         pending: ((PendingIndex) -> Void)?, into target: any FoldTarget,
                         then: (Views, UInt64?) throws -> Void) throws -> Result<UInt64, Rejection> {
        let views = Views(target.views)
        let decision: Result<[EventPayload], Rejection>
        do {
            decision = try decide(command, views: views)
        } catch let e as LMDBError where e.isMapFull {
            throw e
        } catch {
            // One command's failure (a bug, a record LMDB cannot hold) must not fail the batch around it.
            throw FoldFailure(underlying: error)
        }
        switch decision {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(let payloads):
            var s = seq
            do {
                for payload in payloads {
                    s += 1
                    try append(Event(seq: s, time: time, context: context, payload: payload), index: index, pending: pending, into: target)
                }
            } catch let e as LMDBError where e.isMapFull {
                throw e
            } catch {
                throw FoldFailure(underlying: error)
            }
            try then(views, payloads.isEmpty ? nil : s)
            return .success(s)
        }
    }

    /// Decides and appends commands in one durable transaction, without the
    /// writer thread (bulk tools: `generate`). Returns the events written and
    /// the number of commands refused.
    public func commitSynchronously(_ commands: [Command], context: EventContext,
                                    clock: () -> Micros) throws -> (events: UInt64, refused: Int) {
        try env.write { txn in
            try indexingInline(txn) {
                let start = try lastSequence(txn)
                var seq = start
                var refused = 0
                for c in commands {
                    switch try decideAndAppend(c, context: context, time: clock(), after: seq, index: true, in: txn) {
                    case .success(let s): seq = s
                    case .failure: refused += 1
                    }
                }
                return (seq - start, refused)
            }
        }
    }

    /// The one way an event enters a data dir: the log record, then the fold
    /// into the views (recording the undo log). With `index`, also its entries
    /// in the event and time indexes (bulk tools); the server's writer leaves
    /// those to `catchUpIndex`, off the commit that answers the request, and
    /// takes them through `pending`, worked out from the views at hand.
    func append(_ event: Event, stored: [UInt8]? = nil, index: Bool = false,
                pending: ((PendingIndex) -> Void)? = nil, in txn: Transaction) throws {
        try append(event, stored: stored, index: index ? txn : nil, pending: pending, into: TransactionTarget(txn: txn, dbs: dbs))
    }

    /// As above, folding into `target`; `index` is the transaction to write
    /// the event's index entries into, if any.
    func append(_ event: Event, stored: [UInt8]? = nil, index: Transaction?,
                pending: ((PendingIndex) -> Void)?, into target: any FoldTarget) throws {
        try target.put(log, LedgerStore.key(event.seq), stored ?? event.encoded(), append: true)
        let entries = index != nil || pending != nil ? try indexEntries(event, before: Views(target.views)) : []
        let recorder = RecordingViewStore(target: target, dbs: dbs, history: history, links: linkVersions!)
        recorder.seq = event.seq
        try apply(event, to: Views(recorder))
        if let index { try writeIndex(event.seq, event.time, entries, in: index) }
        pending?(PendingIndex(seq: event.seq, time: event.time, entries: entries))
    }

    /// What an event is indexed under: the consumers and providers it
    /// touches (including the providers a consumer's old allocations were
    /// on), the projects and users of those consumers, the resource classes
    /// involved, and its type.
    func indexEntries(_ event: Event, before views: Views) throws -> [IndexEntry] {
        // A set hashed each entry's id: 3% of the writer's CPU under PUT.
        var out = SmallMap<IndexEntry, Void>()
        func add(_ kind: IndexEntry.Kind, _ id: String) { _ = out.add(IndexEntry(kind, id), ()) }
        add(.type, event.payload.type)
        for p in event.payload.providers { add(.provider, p) }
        var consumers: [ConsumerAllocations] = []
        switch event.payload {
        case .allocationsReplaced(let cs): consumers = cs
        case .reshaped(let inv, let cs):
            consumers = cs
            for (_, classes) in inv { for rc in classes.keys { add(.resourceClass, rc) } }
            for (p, _) in inv { if let old = try views.provider(p) { for rc in old.inventories.keys { add(.resourceClass, rc) } } }
        case .inventoriesReplaced(let p, let inv):
            for rc in inv.keys { add(.resourceClass, rc) }
            if let old = try views.provider(p) { for rc in old.inventories.keys { add(.resourceClass, rc) } }
        case .resourceClassCreated(let n), .resourceClassDeleted(let n): add(.resourceClass, n)
        case .resourceClassRenamed(let f, let t): add(.resourceClass, f); add(.resourceClass, t)
        default: break
        }
        for ca in consumers {
            add(.project, ca.project)
            add(.user, ca.user)
            for (_, res) in ca.allocations { for rc in res.keys { add(.resourceClass, rc) } }
        }
        for c in event.payload.consumers {
            add(.consumer, c)
            if let old = try views.consumer(c) {
                add(.project, old.project)
                add(.user, old.user)
                for (p, res) in old.allocations {
                    add(.provider, p)
                    for rc in res.keys { add(.resourceClass, rc) }
                }
            }
        }
        return out.keys
    }

    /// Every record of every projection table, for comparisons.
    public func dumpViews() throws -> [Table: [(key: String, value: [UInt8])]] {
        try snapshot().views
    }

    /// Every view record and the last sequence, from one read snapshot.
    func snapshot() throws -> (views: [Table: [(key: String, value: [UInt8])]], last: UInt64) {
        try env.read { txn in (try views(in: txn), try lastSequence(txn)) }
    }

    /// Every view record in `txn`'s snapshot.
    func views(in txn: Transaction) throws -> [Table: [(key: String, value: [UInt8])]] {
        let store = LMDBViewStore(txn: txn, dbs: dbs)
        var out: [Table: [(key: String, value: [UInt8])]] = [:]
        for t in Table.allCases { out[t] = try store.scan(t, prefix: "") }
        return out
    }
}

/// Folding an accepted command's events failed: the transaction holding it
/// must be aborted (nested transactions would contain it, but cost a copy of
/// every dirty page per command).
public struct FoldFailure: Error, CustomStringConvertible {
    public let underlying: any Error
    public var description: String { "folding the events failed: \(underlying)" }
}

/// One entry of the event index.
public struct IndexEntry: Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case consumer, provider, project, user, resourceClass = "class", type
    }
    public let kind: Kind
    public let id: String
    public init(_ kind: Kind, _ id: String) {
        self.kind = kind
        self.id = id
    }

    /// The index key prefix of this entry: kind \0 id 0xFF.
    var prefix: [UInt8] {
        var k: [UInt8] = Array(kind.rawValue.utf8)
        k.append(0)
        k.append(contentsOf: KeyPart.of(id).utf8)
        k.append(HistoryKey.end)
        return k
    }

    /// The index key of this entry for one event.
    func key(_ seq: UInt64) -> [UInt8] { prefix + LedgerStore.key(seq) }

    /// The view table whose undo log also indexes events under this entry:
    /// every event that changed a provider's or a consumer's record.
    var recordTable: Table? {
        // Record keys are uuids; a longer id names no record (and could not be an LMDB key).
        guard id.utf8.count <= KeyPart.limit else { return nil }
        return switch kind {
        case .provider: .providers
        case .consumer: .consumers
        default: nil
        }
    }
}

/// Why a data dir cannot be used.
public enum StoreError: Error, CustomStringConvertible {
    case noDataDir(String)
    case notALedger(String, String)
    case format(String, String)
    case locked(String)

    public var description: String {
        switch self {
        case .noDataDir(let p): "no data dir at \(p)"
        case .notALedger(let p, let why): "\(p) does not hold a placement-ledger data dir (\(why))"
        case .format(let p, let f):
            LedgerStore.olderReadableFormats.contains(f)
                ? "\(p) has data format \(f); this placement-ledger serves format \(LedgerStore.formatVersion). Upgrade it with `placement-ledger replay --data-dir \(p) --into NEW`, which copies the whole log byte for byte and rebuilds the rest; then serve NEW."
                : "\(p) has data format \(f); this placement-ledger reads format \(LedgerStore.formatVersion)"
        case .locked(let p): "\(p) is already in use by another placement-ledger server"
        }
    }
}
