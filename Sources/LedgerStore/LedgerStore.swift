import Foundation
import Ledger
import LMDB

/// The ledger on disk: the immutable event log and the projection folded
/// from it, in one LMDB environment (the data dir).
///
/// Layout (named LMDB databases):
/// - `log`: big-endian sequence number -> event (JSON). Append-only.
/// - `meta`: `format` -> on-disk format version.
/// - one database per `Table` of the projection.
public final class LedgerStore: @unchecked Sendable {
    /// Written into `meta` at creation; a data dir of another format is refused.
    public static let formatVersion = "1"

    public let env: Environment
    let log: Database
    let meta: Database
    let dbs: [Table: Database]
    public let path: String

    /// Opens or creates the data dir at `path`.
    /// - Parameter durable: false only for scratch folds (verify).
    public init(path: String, readOnly: Bool = false, durable: Bool = true, mapSize: Int = 1 << 30) throws {
        let fm = FileManager.default
        if !readOnly { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) }
        guard fm.fileExists(atPath: path) else { throw StoreError.noDataDir(path) }
        self.path = path
        do {
            env = try Environment(path: path, mapSize: mapSize, maxDatabases: Table.allCases.count + 8,
                                  readOnly: readOnly, durable: durable)
        } catch let e as LMDBError where e.isInvalid {
            throw StoreError.notALedger(path, e.description)
        }
        log = try env.database("log", create: !readOnly)
        meta = try env.database("meta", create: !readOnly)
        var dbs: [Table: Database] = [:]
        for t in Table.allCases { dbs[t] = try env.database(t.rawValue, create: !readOnly) }
        self.dbs = dbs
        let format = try env.read { try $0.get(meta, Array("format".utf8)) }
        if let format {
            let f = String(decoding: format, as: UTF8.self)
            guard f == LedgerStore.formatVersion else { throw StoreError.format(path, f) }
        } else if !readOnly {
            try env.write { try $0.put(meta, Array("format".utf8), Array(LedgerStore.formatVersion.utf8)) }
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

    /// Appends events and folds them into the views, all in one durable
    /// transaction. Used by replay; the live server goes through `Writer`.
    public func appendAndApply(_ events: [Event]) throws {
        try env.write { txn in
            let views = Views(LMDBViewStore(txn: txn, dbs: dbs))
            for ev in events {
                try txn.put(log, LedgerStore.key(ev.seq), ev.encoded(), append: true)
                try apply(ev, to: views)
            }
        }
    }

    /// Every record of every projection table, for comparisons.
    public func dumpViews() throws -> [Table: [(key: String, value: [UInt8])]] {
        try env.read { txn in
            let store = LMDBViewStore(txn: txn, dbs: dbs)
            var out: [Table: [(key: String, value: [UInt8])]] = [:]
            for t in Table.allCases { out[t] = try store.scan(t, prefix: "") }
            return out
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
        case .format(let p, let f): "\(p) has data format \(f); this placement-ledger reads format \(LedgerStore.formatVersion)"
        case .locked(let p): "\(p) is already in use by another placement-ledger server"
        }
    }
}
