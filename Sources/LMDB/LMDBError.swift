import CLMDB

/// An LMDB return code other than MDB_SUCCESS, with LMDB's own message.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The raw LMDB (or errno) code.
    public let code: Int32
    /// What this library found, when it found the problem itself.
    public let detail: String?

    public init(code: Int32, detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        "LMDB error \(code): \(String(cString: mdb_strerror(code)))" + (detail.map { " (\($0))" } ?? "")
    }

    static func truncated(size: UInt64, needed: UInt64) -> LMDBError {
        LMDBError(code: MDB_CORRUPTED, detail: "data.mdb is \(size) bytes, but the pages in use need \(needed): the file was truncated")
    }

    /// A key LMDB cannot hold (empty, or longer than its limit).
    public static func unstorableKey(_ count: Int) -> LMDBError {
        LMDBError(code: MDB_BAD_VALSIZE, detail: "a key of \(count) bytes")
    }

    /// The map is full: the environment must grow before the write is retried.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    /// The environment file was written by an incompatible LMDB version or is not an LMDB file.
    public var isInvalid: Bool { code == MDB_INVALID || code == MDB_VERSION_MISMATCH || code == MDB_CORRUPTED }
}

@inline(__always)
func check(_ rc: Int32) throws(LMDBError) {
    if rc != 0 { throw LMDBError(code: rc) }
}
