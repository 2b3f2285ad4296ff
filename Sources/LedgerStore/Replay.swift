import Foundation
import Ledger
import LMDB

/// Where a replay stops.
public enum ReplayTarget: Sendable {
    case sequence(UInt64)
    /// The last event at or before this instant.
    case time(Micros)
    case end
}

/// Rebuilding state from the log: `replay` into a new data dir and `verify`
/// of a data dir's views against a fresh fold. Both read the source in one
/// snapshot, so they work on a data dir a running server has open.
public enum LogFold {
    /// Events between progress reports, and per transaction in the
    /// event-by-event fold (replay of 100k events that way: 9.3 s at 20,000,
    /// 17.5 s at 2,000).
    static let chunk = 20_000

    /// Copies the log prefix up to `target` into a new data dir at `into` and
    /// folds it (BulkReplay.swift). Returns the number of events copied.
    /// `writing` is called when the fold is done and the data dir is being written.
    /// `foldChunk`: events per hand-off to the folding thread (`PipelinedFold`).
    @discardableResult
    public static func replay(from source: LedgerStore, into path: String, target: ReplayTarget, foldChunk: Int = 4096,
                              progress: (UInt64, UInt64) -> Void = { _, _ in }, writing: () -> Void = {}) throws -> UInt64 {
        let dest = try LedgerStore(path: path)
        guard try dest.lastSequence() == 0 else { throw ReplayError.notEmpty(path) }
        return try foldInMemory(source, into: dest, target: target, chunk: foldChunk, progress: progress, writing: writing)
    }

    /// The fold event by event into LMDB, through the live projector's `append`,
    /// in transactions of `chunk` events: what `replay` did before it folded in
    /// memory, kept as the reference the tests compare that with.
    static func replayEventByEvent(from source: LedgerStore, into path: String, target: ReplayTarget) throws -> UInt64 {
        let dest = try LedgerStore(path: path)
        guard try dest.lastSequence() == 0 else { throw ReplayError.notEmpty(path) }
        return try fold(source, into: dest, target: target, progress: { _, _ in })
    }

    static func fold(_ source: LedgerStore, into dest: LedgerStore, target: ReplayTarget,
                     progress: (UInt64, UInt64) -> Void) throws -> UInt64 {
        let total = try source.lastSequence()
        var pending: [(event: Event, bytes: [UInt8])] = []
        var count: UInt64 = 0
        try source.env.read { txn in
            try events(of: source, in: txn) { ev, raw in
                switch target {
                case .sequence(let s) where ev.seq > s: return false
                case .time(let t) where ev.time > t: return false
                default: break
                }
                pending.append((ev, Array(raw)))
                count += 1
                if pending.count >= chunk {
                    try dest.appendAndApply(stored: pending)
                    pending.removeAll(keepingCapacity: true)
                    progress(count, total)
                }
                return true
            }
        }
        if !pending.isEmpty { try dest.appendAndApply(stored: pending) }
        progress(count, total)
        return count
    }

    /// Folds the whole log of `store` from scratch, in memory (`InternedFold`,
    /// on two threads: `PipelinedFold`), and compares every table with the stored views. The views and the log are read
    /// from one snapshot, so a running server's data dir can be verified.
    /// Returns the number of events checked and every difference found.
    /// `timing` is told the seconds spent folding and comparing.
    public static func verify(_ store: LedgerStore, progress: (UInt64, UInt64) -> Void = { _, _ in },
                              timing: (_ fold: Double, _ compare: Double) -> Void = { _, _ in })
        throws -> (events: UInt64, differences: [String])
    {
        try store.env.read { txn in
            let total = try store.lastSequence(txn)
            let start = ContinuousClock.now
            let pipeline = PipelinedFold()
            var count: UInt64 = 0
            try txn.scan(store.log) { _, raw in
                try pipeline.apply(stored: raw)
                count += 1
                if count % UInt64(chunk) == 0 { progress(count, total) }
                return true
            }
            let fold = try pipeline.finish()
            progress(count, total)
            let folded = ContinuousClock.now
            let diffs = try compare(stored: LMDBViewStore(txn: txn, dbs: store.dbs), folded: fold.storedTables())
            timing((folded - start).seconds, (ContinuousClock.now - folded).seconds)
            return (count, diffs)
        }
    }

    /// Events decoded per batch on the decoding thread.
    static let decodeBatch = 1024

    /// Each event of the log in order, with its stored bytes (valid inside
    /// `txn`), until `body` returns false. Decoding is a third of a fold, so
    /// the next batch is decoded on another thread while `body` takes this one.
    static func events(of store: LedgerStore, in txn: Transaction, batch size: Int = decodeBatch,
                       _ body: (Event, UnsafeRawBufferPointer) throws -> Bool) throws {
        let queue = DispatchQueue(label: "placement-ledger.decode")
        var ahead: DecodeJob?
        // The job reads LMDB's pages: it must be done before the snapshot ends.
        defer { ahead?.wait() }
        var batch: [UnsafeRawBufferPointer] = []
        batch.reserveCapacity(size)
        var going = true
        func handOn(_ job: DecodeJob) throws {
            job.wait()
            for (ev, raw) in zip(job.decoded, job.raws) where going { going = try body(ev, raw) }
            // An event that would not decode fails the read only if it is reached, as it would
            // one event at a time: replay to a point before a damaged event still works.
            if going, let failure = job.failure { throw failure }
        }
        try txn.scan(store.log) { _, raw in
            batch.append(raw)
            if batch.count == size {
                let previous = ahead
                ahead = DecodeJob(batch, on: queue)
                batch.removeAll(keepingCapacity: true)
                if let previous { try handOn(previous) }
            }
            return going
        }
        if let last = ahead, going { try handOn(last) }
        if going && !batch.isEmpty { try handOn(DecodeJob(batch, on: nil)) }
    }

    /// Compares the stored views with a fold's (`InternedFold.storedTables`),
    /// walking each stored table and the folded one side by side in key
    /// order, nothing collected or decoded. Equal bytes are equal records;
    /// records that differ in bytes are compared by content, as records
    /// written in an earlier stored form may.
    static func compare(stored: LMDBViewStore, folded: [[InternedFold.Record]]) throws -> [String] {
        var diffs: [String] = []
        for t in Table.allCases {
            let mine = folded[t.ordinal]
            var j = 0
            func key(_ bytes: some Collection<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
            func differ(_ k: String, stored: [UInt8]?, folded: [UInt8]?) {
                if let d = difference(t, k, stored: stored.map { StoredForm.normalized(t, $0) }, folded: folded.map { StoredForm.normalized(t, $0) }) {
                    diffs.append(d)
                }
            }
            try stored.forEach(t) { k, v in
                while j < mine.count, InternedFold.byteOrder(mine[j].key, k) < 0 {
                    differ(key(mine[j].key), stored: nil, folded: mine[j].value)
                    j += 1
                }
                if j < mine.count, InternedFold.byteOrder(mine[j].key, k) == 0 {
                    if InternedFold.byteOrder(mine[j].value, v) != 0 { differ(key(k), stored: Array(v), folded: mine[j].value) }
                    j += 1
                } else {
                    differ(key(k), stored: Array(v), folded: nil)
                }
            }
            for r in mine[j...] { differ(key(r.key), stored: nil, folded: r.value) }
        }
        return diffs
    }

    /// Compares two dumps of views (`LedgerStore.dumpViews`), as `verify` compares a store with its fold.
    static func compare(stored: [Table: [(key: String, value: [UInt8])]],
                        folded: [Table: [(key: String, value: [UInt8])]]) -> [String] {
        var diffs: [String] = []
        for t in Table.allCases {
            // Records written in an earlier stored form compare by content.
            let a = Dictionary((stored[t] ?? []).map { ($0.key, StoredForm.normalized(t, $0.value)) }, uniquingKeysWith: { x, _ in x })
            let b = Dictionary((folded[t] ?? []).map { ($0.key, StoredForm.normalized(t, $0.value)) }, uniquingKeysWith: { x, _ in x })
            let differing = a.keys.filter { a[$0] != b[$0] } + b.keys.filter { a[$0] == nil }
            diffs += differing.sorted().compactMap { difference(t, $0, stored: a[$0], folded: b[$0]) }
        }
        return diffs
    }

    /// How one record differs, or nil when it does not.
    private static func difference(_ t: Table, _ key: String, stored: [UInt8]?, folded: [UInt8]?) -> String? {
        let shown = key.replacingOccurrences(of: keySep, with: "/")
        switch (stored, folded) {
        case (let x?, let y?) where x != y:
            return "\(t.rawValue) \(shown): stored \(StoredForm.describe(t, x)) but the log folds to \(StoredForm.describe(t, y))"
        case (_?, nil): return "\(t.rawValue) \(shown): stored but not in the fold of the log"
        case (nil, _?): return "\(t.rawValue) \(shown): in the fold of the log but not stored"
        default: return nil
        }
    }
}

/// One batch of stored events being decoded on the decoding thread (or,
/// without a queue, right away). `decoded` and `failure` are read only after
/// `wait()`.
private final class DecodeJob: @unchecked Sendable {
    let raws: [UnsafeRawBufferPointer]
    /// The events before the first that would not decode (all of them when none failed).
    private(set) var decoded: [Event] = []
    /// Why that first event would not decode.
    private(set) var failure: (any Error)?
    private let done = DispatchGroup()

    init(_ raws: [UnsafeRawBufferPointer], on queue: DispatchQueue?) {
        self.raws = raws
        if let queue { queue.async(group: done) { self.run() } } else { run() }
    }

    private func run() {
        decoded.reserveCapacity(raws.count)
        do {
            for raw in raws { decoded.append(try Event.decoded(raw)) }
        } catch {
            failure = error
        }
    }

    func wait() { done.wait() }
}

public enum ReplayError: Error, CustomStringConvertible {
    case notEmpty(String)
    public var description: String {
        switch self { case .notEmpty(let p): "\(p) already holds events; replay needs a new data dir" }
    }
}

extension Duration {
    /// In seconds, as a floating-point number.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
