import Ledger
import LMDB

/// Where the fold of an event writes: the views it reads and changes, and
/// the raw entries beside them (the log record, undo entries).
protocol FoldTarget {
    /// The views as the event finds them; its record writes go here too.
    var views: any ViewStore { get }
    func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], append: Bool) throws
}

/// Writes straight into a write transaction (bulk tools, replay, `generate`).
struct TransactionTarget: FoldTarget {
    let txn: Transaction
    let dbs: TableDatabases

    var views: any ViewStore { LMDBViewStore(txn: txn, dbs: dbs) }

    func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], append: Bool) throws {
        try txn.put(db, key, value, append: append)
    }
}

/// One change to write: a put, or a delete when `value` is nil.
struct StagedWrite {
    let db: Database
    let key: [UInt8]
    let value: [UInt8]?
    let append: Bool
}

/// The changes of commands decided but not yet committed, over a read
/// snapshot of what is committed.
///
/// Why: the writer used to decide a batch inside the write transaction and
/// then commit it, so its CPU work and the disk's flush took turns; under
/// durable PUT load the writer thread was on the CPU 43% of the time and
/// asleep in `fdatasync` most of the rest, while a second core sat partly
/// idle. Now one thread decides commands against the committed snapshot plus
/// these layers, and another writes the staged changes in one transaction
/// and commits, so the next batch is decided while the disk flushes this one.
///
/// Layers, newest first: the command being decided (dropped if its fold
/// fails), the batch being gathered, and the batch being committed (dropped
/// once its commit is visible to a new snapshot). A read looks at each in
/// turn, then at `base`.
final class StagedViews: ViewStore {
    private typealias Layer = [[String: [UInt8]?]]  // by table ordinal
    private static func emptyLayer() -> Layer { Array(repeating: [:], count: Table.allCases.count) }

    let dbs: TableDatabases
    /// The committed snapshot; set for each command, inside its read transaction.
    var base: LMDBViewStore?

    private var committing = StagedViews.emptyLayer()
    private var gathering = StagedViews.emptyLayer()
    private var command = StagedViews.emptyLayer()
    /// The raw writes of the batch being gathered, and of the command being decided, in order.
    private(set) var gatheredWrites: [StagedWrite] = []
    private var commandWrites: [StagedWrite] = []

    init(dbs: TableDatabases) {
        self.dbs = dbs
    }

    // MARK: layers

    /// The command's changes join the batch being gathered.
    func keepCommand() {
        for t in 0..<command.count where !command[t].isEmpty {
            gathering[t].merge(command[t]) { _, new in new }
            command[t].removeAll(keepingCapacity: true)
        }
        gatheredWrites += commandWrites
        commandWrites.removeAll(keepingCapacity: true)
    }

    /// The command's changes are dropped (its fold failed).
    func dropCommand() {
        for t in 0..<command.count { command[t].removeAll(keepingCapacity: true) }
        commandWrites.removeAll(keepingCapacity: true)
    }

    /// The gathered batch is handed to the committer: its changes move down a
    /// layer, and the writes go with it.
    func handOver() -> [StagedWrite] {
        precondition(committing.allSatisfy(\.isEmpty), "a batch is still being committed")
        swap(&committing, &gathering)
        let writes = gatheredWrites
        gatheredWrites = []
        return writes
    }

    /// The handed batch is committed (and the next snapshot shows it), or it
    /// failed; either way its layer goes. After a failure the caller drops
    /// the gathered batch too and decides its commands again.
    func committed() {
        for t in 0..<committing.count { committing[t].removeAll(keepingCapacity: true) }
    }

    /// Forgets the batch being gathered (after the batch below it failed).
    func dropGathered() {
        for t in 0..<gathering.count { gathering[t].removeAll(keepingCapacity: true) }
        gatheredWrites.removeAll()
        dropCommand()
    }

    // MARK: ViewStore

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        let t = table.ordinal
        if let v = command[t][key] { return v }
        if let v = gathering[t][key] { return v }
        if let v = committing[t][key] { return v }
        return try base!.get(table, key)
    }

    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        try stage(dbs[table]!, Array(key.utf8), value, append: false)
        command[table.ordinal][key] = .some(value)
    }

    func delete(_ table: Table, _ key: String) throws {
        try stage(dbs[table]!, Array(key.utf8), nil, append: false)
        command[table.ordinal][key] = .some(nil)
    }

    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        let t = table.ordinal
        return overlaidScan(try base!.scan(table, prefix: prefix), [committing[t], gathering[t], command[t]], prefix: prefix)
    }

    /// A raw write of the command being decided (always inside its read
    /// transaction). A key LMDB could not hold fails here, in the command's
    /// own fold, as it would in a write transaction, not at the commit.
    func stage(_ db: Database, _ key: [UInt8], _ value: [UInt8]?, append: Bool) throws {
        guard base!.txn.storable(key) else { throw LMDBError.unstorableKey(key.count) }
        commandWrites.append(StagedWrite(db: db, key: key, value: value, append: append))
    }
}

/// Folds into the staged layers.
struct StagedTarget: FoldTarget {
    let staged: StagedViews
    var views: any ViewStore { staged }
    func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], append: Bool) throws {
        try staged.stage(db, key, value, append: append)
    }
}

extension Transaction {
    /// Writes staged changes, in order.
    func write(_ writes: [StagedWrite]) throws {
        for w in writes {
            if let value = w.value {
                try put(w.db, w.key, value, append: w.append)
            } else {
                try delete(w.db, w.key)
            }
        }
    }
}
