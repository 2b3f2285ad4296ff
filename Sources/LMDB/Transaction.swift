import CLMDB

/// A named LMDB database (a B+tree inside the environment).
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The name it was opened with.
    public let name: String
}

/// A transaction: a read-only snapshot (inside `Environment.read`) or the
/// single write transaction (inside `Environment.write`). Never stored: it is
/// valid only for the closure it is handed to.
public struct Transaction {
    let txn: OpaquePointer
    /// Whether puts and deletes are allowed.
    public let isWritable: Bool

    init(txn: OpaquePointer, writable: Bool) {
        self.txn = txn
        self.isWritable = writable
    }

    /// The longest key LMDB stores (511 bytes in Debian's build).
    var maxKeySize: Int { Int(mdb_env_get_maxkeysize(mdb_txn_env(txn))) }

    /// Whether `key` is one LMDB could hold. Any other key is simply absent:
    /// a lookup of "" or of 600 bytes (a resource class name no pattern
    /// bounded) finds nothing, where LMDB itself would fail with MDB_BAD_VALSIZE.
    public func storable(_ key: [UInt8]) -> Bool { !key.isEmpty && key.count <= maxKeySize }

    /// The value under `key`, or nil.
    public func get(_ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
        guard storable(key) else { return nil }
        return try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(txn, db.dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc)
            return Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    /// Stores `value` under `key`. `append` is MDB_APPEND: the key must sort after every existing key.
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], append: Bool = false, noOverwrite: Bool = false) throws {
        var flags: UInt32 = 0
        if append { flags |= UInt32(MDB_APPEND) }
        if noOverwrite { flags |= UInt32(MDB_NOOVERWRITE) }
        try key.withUnsafeBytes { kb in
            try value.withUnsafeBytes { vb in
                var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
                var v = MDB_val(mv_size: vb.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                try check(mdb_put(txn, db.dbi, &k, &v, flags))
            }
        }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws -> Bool {
        guard storable(key) else { return false }
        return try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            let rc = mdb_del(txn, db.dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc)
            return true
        }
    }

    /// Removes every record of `db` (the database stays).
    public func clear(_ db: Database) throws {
        try check(mdb_drop(txn, db.dbi, 0))
    }

    /// Number of records in `db`.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat))
        return Int(stat.ms_entries)
    }

    /// Puts `cursor` on the first key at or after `target` (MDB_SET_RANGE),
    /// for targets of any length: every stored key is at most `maxKeySize`
    /// bytes, so the first one at or after a longer target is the first one
    /// after its first `maxKeySize` bytes.
    private func seekRange(_ cursor: OpaquePointer?, _ target: [UInt8], _ k: inout MDB_val, _ v: inout MDB_val) -> Int32 {
        if target.isEmpty { return mdb_cursor_get(cursor, &k, &v, MDB_FIRST) }
        let max = maxKeySize
        let head = target.count > max ? Array(target[0..<max]) : target
        let rc = head.withUnsafeBytes { hb in
            k = MDB_val(mv_size: hb.count, mv_data: UnsafeMutableRawPointer(mutating: hb.baseAddress))
            return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        if rc == 0, target.count > max, head.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)) }) {
            return mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        return rc
    }

    /// Calls `body` for each record whose key starts with `prefix` (all records
    /// when empty), starting at `from` if given, in key order, until it returns false.
    public func scan(_ db: Database, prefix: [UInt8] = [], from: [UInt8]? = nil, reverse: Bool = false,
                     _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        let start = from ?? prefix
        var rc: Int32
        if reverse {
            // Position after the prefix range, then walk back.
            if prefix.isEmpty && from == nil {
                rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
            } else {
                var upper = from ?? prefix
                if from == nil { upper.append(contentsOf: [UInt8](repeating: 0xFF, count: 8)) }
                rc = seekRange(cursor, upper, &k, &v)
                if rc == MDB_NOTFOUND {
                    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                } else if rc == 0 {
                    let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
                    if !upper.withUnsafeBytes({ $0.elementsEqual(key) }) || from == nil {
                        rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV)
                    }
                }
            }
        } else {
            rc = seekRange(cursor, start, &k, &v)
        }
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            if !prefix.isEmpty {
                if key.count < prefix.count { break }
                if !prefix.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(rebasing: key[0..<prefix.count])) }) { break }
            }
            let value = UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            if try !body(key, value) { return }
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if rc != MDB_NOTFOUND && rc != 0 { throw LMDBError(code: rc) }
    }

    /// What a `walk` does after a record.
    public enum Step {
        case next
        case stop
        /// Go on at the first key at or after this one.
        case seek([UInt8])
    }

    /// Like `scan` forward, with one cursor, but `body` may jump ahead.
    public func walk(_ db: Database, prefix: [UInt8], _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Step) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        func seek(_ target: [UInt8]) -> Int32 { seekRange(cursor, target, &k, &v) }
        var rc = seek(prefix)
        while rc == 0 {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            if !prefix.isEmpty {
                if key.count < prefix.count { break }
                if !prefix.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(rebasing: key[0..<prefix.count])) }) { break }
            }
            switch try body(key, UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)) {
            case .stop: return
            case .next: rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
            case .seek(let target): rc = seek(target)
            }
        }
        if rc != MDB_NOTFOUND && rc != 0 { throw LMDBError(code: rc) }
    }

    /// The last record of `db`, if any.
    public func last(_ db: Database) throws -> (key: [UInt8], value: [UInt8])? {
        var found: (key: [UInt8], value: [UInt8])?
        try scan(db, reverse: true) { k, v in
            found = (Array(k), Array(v))
            return false
        }
        return found
    }

    /// Bulk load: `body` is handed an `Appender` that writes records after
    /// every key `db` holds (MDB_APPEND, through one cursor, so a record
    /// costs no search from the root). Records must come in key order; one
    /// out of order fails with MDB_KEYEXIST.
    public func appending(_ db: Database, _ body: (Appender) throws -> Void) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        try body(Appender(cursor: cursor))
    }

    /// Writes records at the end of a database (`appending`).
    public struct Appender {
        let cursor: OpaquePointer?

        public func callAsFunction(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
            var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            try check(mdb_cursor_put(cursor, &k, &v, UInt32(MDB_APPEND)))
        }

        public func callAsFunction(_ key: [UInt8], _ value: [UInt8]) throws {
            try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try self(k, v) } }
        }
    }

    /// Runs `body` in a nested write transaction: if it throws, only its own
    /// writes are undone and the parent goes on.
    public func nested<T>(_ body: (Transaction) throws -> T) throws -> T {
        var child: OpaquePointer?
        try check(mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child))
        let result: T
        do {
            result = try body(Transaction(txn: child!, writable: true))
        } catch {
            mdb_txn_abort(child)
            throw error
        }
        try check(mdb_txn_commit(child))
        return result
    }
}
