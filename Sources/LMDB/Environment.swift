import CLMDB
import Foundation

/// One LMDB environment: a data directory holding `data.mdb` and `lock.mdb`.
///
/// Every transaction runs inside a synchronous closure (`read`, `write`), so no
/// `await` can ever sit inside a transaction, and a transaction never outlives
/// the call that opened it. The environment is opened with `MDB_NOTLS`, because
/// Swift tasks hop between threads and LMDB would otherwise bind reader slots
/// to threads.
public final class Environment: @unchecked Sendable {
    let env: OpaquePointer
    private let gate = ReadWriteGate()
    private let mapLock = NSLock()
    private var databases: [String: MDB_dbi] = [:]
    /// The current map size in bytes; grown by `growIfNeeded`.
    public private(set) var mapSize: Int
    public let path: String

    /// Opens (creating if needed) the environment in `path`.
    /// - Parameters:
    ///   - readOnly: open without write access (tools reading a live server's data dir).
    ///   - durable: false adds MDB_NOSYNC. Only for scratch environments that are
///     rebuilt from the log (verify); the ledger itself is always durable.
    public init(path: String, mapSize: Int = 1 << 30, maxDatabases: Int = 32, maxReaders: Int = 1024,
                readOnly: Bool = false, durable: Bool = true) throws {
        var handle: OpaquePointer?
        try check(mdb_env_create(&handle))
        guard let handle else { throw LMDBError(code: MDB_PANIC) }
        env = handle
        self.path = path
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)))
            try check(mdb_env_set_maxreaders(env, UInt32(maxReaders)))
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            if !durable { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o644))
            // Never shrink below what is on disk: a data dir can be larger than the default.
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            // A file shorter than the pages its meta page says are in use was
            // truncated (a bad copy, a full disk in another tool): reading it
            // would fault on the missing pages, so refuse it here.
            var dbStat = MDB_stat()
            mdb_env_stat(env, &dbStat)
            let needed = (UInt64(info.me_last_pgno) + 1) * UInt64(dbStat.ms_psize)
            if let size = (try? FileManager.default.attributesOfItem(atPath: path + "/data.mdb"))?[.size] as? Int,
               UInt64(size) < needed {
                throw LMDBError.truncated(size: UInt64(size), needed: needed)
            }
            let current = Int(info.me_mapsize)
            let want = max(current, mapSize)
            if want != current { try check(mdb_env_set_mapsize(env, want)) }
            self.mapSize = want
        } catch {
            mdb_env_close(env)
            throw error
        }
    }

    deinit { mdb_env_close(env) }

    /// Flushes and closes the environment. Further use is a programming error.
    public func close() {
        _ = gate.withExclusive { mdb_env_sync(env, 1) }
    }

    /// Opens (or creates, on a writable environment) a named database.
    public func database(_ name: String, create: Bool = true) throws -> Database {
        mapLock.lock(); defer { mapLock.unlock() }
        if let dbi = databases[name] { return Database(dbi: dbi, name: name) }
        var dbi: MDB_dbi = 0
        try gate.withShared {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, create ? 0 : UInt32(MDB_RDONLY), &txn))
            let rc = mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
            if rc != 0 { mdb_txn_abort(txn); throw LMDBError(code: rc) }
            try check(mdb_txn_commit(txn))
        }
        databases[name] = dbi
        return Database(dbi: dbi, name: name)
    }

    /// Runs `body` in a read-only snapshot. Readers never wait for the writer.
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try gate.withShared {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn))
            defer { mdb_txn_abort(txn) }
            return try body(Transaction(txn: txn!, writable: false))
        }
    }

    /// Runs `body` in a write transaction and commits it (durably, unless the
    /// environment was opened without sync, which this project never does).
    /// Throwing from `body` aborts. Callers keep all writes on one thread.
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        try growIfNeeded()
        return try gate.withShared {
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, 0, &txn))
            let result: T
            do {
                result = try body(Transaction(txn: txn!, writable: true))
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try check(mdb_txn_commit(txn))
            return result
        }
    }

    /// Bytes in use (last used page), from LMDB's own bookkeeping.
    public func usedBytes() -> Int { pages().used }

    /// Bytes in use and the page size, from LMDB's own bookkeeping.
    private func pages() -> (used: Int, size: Int) {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return ((Int(info.me_last_pgno) + 1) * Int(stat.ms_psize), Int(stat.ms_psize))
    }

    /// Doubles the map while it is more than half used, so `MDB_MAP_FULL`
    /// never reaches a caller in practice. `mdb_env_set_mapsize` needs every
    /// transaction of this process closed: the gate waits for running readers
    /// and holds new ones back for the instant the resize takes.
    public func growIfNeeded(reserve: Int = 0) throws {
        let used = usedBytes() + reserve
        guard used * 2 > mapSize else { return }
        var newSize = mapSize
        while used * 2 > newSize { newSize *= 2 }
        try gate.withExclusive {
            try check(mdb_env_set_mapsize(env, newSize))
        }
        mapSize = newSize
    }

    /// Keeps at least `minimum` bytes of zero pages in `data.mdb` past LMDB's
    /// last page, writing them up to `target` bytes past it, one page per
    /// `pwrite`, then `fdatasync`. Call it from the one thread that writes,
    /// between write transactions. Returns the bytes it wrote.
    ///
    /// Why: LMDB writes a run of new pages at the end of the file with one
    /// `writev`, and Linux (6.x, ext4) caches a large write in large folios,
    /// up to 256 KiB each. Every later commit rewrites single pages inside
    /// them, and each `pwrite` and `fdatasync` then walks all the blocks of
    /// each folio it touches: on this machine 2.5 ms of CPU for 82 scattered
    /// pages instead of 0.7 ms, and 15-20% of the writer's CPU under PUT
    /// load. A page-sized `pwrite` past the end of the file makes a
    /// single-page folio, and LMDB's later writes land in the folios that
    /// are there. The zero pages are beyond `me_last_pgno`: LMDB never reads
    /// a page it has not written, so they mean nothing to it, and the
    /// file only runs ahead of the data by `target` bytes. A failed write
    /// (disk full) just stops the extension; LMDB's own writes report it.
    @discardableResult
    public func keepRunway(minimum: Int, target: Int) -> Int {
        var fd: Int32 = -1
        guard mdb_env_get_fd(env, &fd) == 0, fd >= 0 else { return 0 }
        let (used, page) = pages()
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        let size = Int(st.st_size)
        guard size < used + minimum else { return 0 }
        let end = min(used + target, mapSize)
        var offset = (max(size, used) + page - 1) / page * page
        let first = offset
        let zeros = [UInt8](repeating: 0, count: page)
        zeros.withUnsafeBytes { buf in
            while offset + page <= end {
                guard pwrite(fd, buf.baseAddress, page, off_t(offset)) == page else { break }
                offset += page
            }
        }
        if offset > first { _ = fdatasync(fd) }
        return offset - first
    }

    /// Forces the environment to disk (used at shutdown).
    public func sync() throws {
        try check(mdb_env_sync(env, 1))
    }
}

/// Many readers and writers share; a map resize is exclusive.
final class ReadWriteGate: @unchecked Sendable {
    private var lock = pthread_rwlock_t()
    init() { pthread_rwlock_init(&lock, nil) }
    deinit { pthread_rwlock_destroy(&lock) }
    func withShared<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return try body()
    }
    func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return try body()
    }
}
