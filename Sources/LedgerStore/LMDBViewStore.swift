import Ledger
import LMDB

/// The projection's tables inside one LMDB transaction.
struct LMDBViewStore: ViewStore {
    let txn: Transaction
    let dbs: TableDatabases

    func get(_ table: Table, _ key: String) throws -> [UInt8]? {
        try txn.get(dbs[table]!, Array(key.utf8))
    }
    func put(_ table: Table, _ key: String, _ value: [UInt8]) throws {
        try txn.put(dbs[table]!, Array(key.utf8), value)
    }
    func delete(_ table: Table, _ key: String) throws {
        try txn.delete(dbs[table]!, Array(key.utf8))
    }
    /// Records under `prefix` in key order; the undo entries kept beside
    /// records (`VersionKey`) are stepped over, one seek per record.
    func scan(_ table: Table, prefix: String) throws -> [(key: String, value: [UInt8])] {
        var out: [(key: String, value: [UInt8])] = []
        try forEach(table, prefix: prefix) { k, v in out.append((String(decoding: k, as: UTF8.self), Array(v))) }
        return out
    }

    /// What `scan` returns, handed to `body` one record at a time as LMDB
    /// holds it (valid only inside the call), without collecting them.
    func forEach(_ table: Table, prefix: String = "",
                 _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) throws {
        try txn.walk(dbs[table]!, prefix: Array(prefix.utf8)) { k, v in
            if let base = VersionKey.base(k) { return .seek(VersionKey.past(base)) }
            try body(k, v)
            return .next
        }
    }
}

/// The projection's databases, one per table, found by the table's
/// position. A `[Table: Database]` hashed the table on every read and write
/// of the writer and of every GET (about 1% of the CPU the writer spends
/// deciding and applying PUTs).
struct TableDatabases {
    private let byPosition: [Database]

    init(_ open: (Table) throws -> Database) rethrows {
        var slots = [Database?](repeating: nil, count: Table.allCases.count)
        for table in Table.allCases {
            precondition(slots[table.ordinal] == nil, "two tables at position \(table.ordinal)")
            slots[table.ordinal] = try open(table)
        }
        byPosition = slots.map { $0! }
    }

    /// Never nil: optional so that call sites read like the dictionary's.
    subscript(table: Table) -> Database? { byPosition[table.ordinal] }
}
