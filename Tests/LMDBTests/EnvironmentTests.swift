import Foundation
import Testing
@testable import LMDB

func tempDir(_ name: String = "lmdb") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct EnvironmentTests {
    @Test func aTruncatedFileIsRefusedAtOpen() throws {
        let path = tempDir()
        do {
            let env = try Environment(path: path)
            let db = try env.database("t")
            try env.write { txn in
                for i in 0..<5000 { try txn.put(db, Array("key-\(i)".utf8), [UInt8](repeating: 7, count: 100)) }
            }
            env.close()
        }
        let file = path + "/data.mdb"
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        #expect(truncate(file, off_t(size / 2)) == 0)
        #expect {
            _ = try Environment(path: path)
        } throws: { error in
            guard let e = error as? LMDBError else { return false }
            return e.isInvalid && e.description.contains("truncated")
        }
    }

    /// Keys LMDB cannot hold (empty, longer than 511 bytes) are absent, not
    /// errors: lookups and seeks by a caller's name must not fail.
    @Test func unstorableKeysAreAbsent() throws {
        let env = try Environment(path: tempDir())
        let db = try env.database("t")
        let long = [UInt8](repeating: 0x61, count: 600)
        let max = Array(long[0..<511])
        try env.write { txn in
            for k in [[0x61], max, max.dropLast() + [0x62], [0x62]] as [[UInt8]] { try txn.put(db, k, k) }
            #expect(try txn.get(db, []) == nil)
            #expect(try txn.get(db, long) == nil)
            #expect(try txn.delete(db, long) == false)
            #expect(throws: LMDBError.self) { try txn.put(db, long, [1]) }
        }
        try env.read { txn in
            func keys(prefix: [UInt8] = [], from: [UInt8]? = nil, reverse: Bool = false) throws -> [Int] {
                var out: [Int] = []
                try txn.scan(db, prefix: prefix, from: from, reverse: reverse) { k, _ in out.append(k.count * 10 + Int(k.last! - 0x60)); return true }
                return out
            }
            // The first key at or after 600 a's is the one after 511 a's.
            #expect(try keys(from: long) == [5112, 12])
            #expect(try keys(from: long, reverse: true) == [5111, 11])
            #expect(try keys(prefix: long) == [])
            #expect(try keys(prefix: max) == [5111])
            var walked: [Int] = []
            try txn.walk(db, prefix: []) { k, _ in
                walked.append(k.count)
                return k.count == 1 && k[0] == 0x61 ? .seek(long) : .next
            }
            #expect(walked == [1, 511, 1])
        }
    }

    @Test func putGetScanDelete() throws {
        let env = try Environment(path: tempDir())
        let db = try env.database("t")
        try env.write { txn in
            for k in ["b", "a", "ab", "c"] { try txn.put(db, Array(k.utf8), Array(k.uppercased().utf8)) }
        }
        try env.read { txn in
            let v1 = try txn.get(db, Array("ab".utf8))
            #expect(v1 == Array("AB".utf8))
            var keys: [String] = []
            try txn.scan(db, prefix: Array("a".utf8)) { k, _ in keys.append(String(decoding: k, as: UTF8.self)); return true }
            #expect(keys == ["a", "ab"])
            let v2 = try txn.last(db)?.key
            #expect(v2 == Array("c".utf8))
            let v3 = try txn.count(db)
            #expect(v3 == 4)
        }
        let deleted = try env.write { txn in try txn.delete(db, Array("a".utf8)) }
        #expect(deleted)
        #expect(try env.read { try $0.get(db, Array("a".utf8)) } == nil)
    }

    @Test func abortedWriteLeavesNothing() throws {
        let env = try Environment(path: tempDir())
        let db = try env.database("t")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, [1], [1])
                throw Boom()
            }
        }
        #expect(try env.read { try $0.count(db) } == 0)
    }

    @Test func nestedTransactionRollsBackAlone() throws {
        let env = try Environment(path: tempDir())
        let db = try env.database("t")
        struct Boom: Error {}
        try env.write { txn in
            try txn.put(db, [1], [1])
            _ = try? txn.nested { child in
                try child.put(db, [2], [2])
                throw Boom()
            }
            try txn.nested { child in try child.put(db, [3], [3]) }
        }
        try env.read { txn in
            let v4 = try txn.get(db, [1])
            #expect(v4 == [1])
            let v5 = try txn.get(db, [2])
            #expect(v5 == nil)
            let v6 = try txn.get(db, [3])
            #expect(v6 == [3])
        }
    }

    /// Starting from a tiny map, far more data than it holds is written:
    /// the map grows before it is full, so no MDB_MAP_FULL ever surfaces.
    @Test func mapGrowsBeforeItIsFull() throws {
        let env = try Environment(path: tempDir(), mapSize: 1 << 20)
        let db = try env.database("t")
        let value = [UInt8](repeating: 7, count: 4000)
        for batch in 0..<40 {
            try env.write { txn in
                for i in 0..<64 {
                    let k = withUnsafeBytes(of: UInt32(batch * 64 + i).bigEndian) { Array($0) }
                    try txn.put(db, k, value)
                }
            }
        }
        #expect(env.mapSize > 1 << 20)
        #expect(try env.read { try $0.count(db) } == 40 * 64)
    }

    /// The zero pages kept past LMDB's last page: the file runs ahead by the
    /// target, nothing is written while it is ahead by the minimum, and data
    /// LMDB then writes over those pages reads back, also after reopening.
    @Test func runwayRunsAheadOfTheDataAndIsWrittenOver() throws {
        let path = tempDir()
        let file = path + "/data.mdb"
        func fileSize() throws -> Int { try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int }
        let value = [UInt8](repeating: 9, count: 3000)
        func key(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) } }
        do {
            let env = try Environment(path: path)
            let db = try env.database("t")
            try env.write { txn in for i in 0..<10 { try txn.put(db, key(i), value) } }
            let wrote = env.keepRunway(minimum: 64 << 10, target: 256 << 10)
            #expect(wrote > 0 && wrote % 4096 == 0)
            #expect(try fileSize() == env.usedBytes() + 256 << 10)
            #expect(env.keepRunway(minimum: 64 << 10, target: 256 << 10) == 0)
            // About 200 pages of new data: more than the runway holds.
            for batch in 0..<10 {
                try env.write { txn in for i in 0..<20 { try txn.put(db, key(1000 + batch * 20 + i), value) } }
                env.keepRunway(minimum: 64 << 10, target: 256 << 10)
                #expect(try fileSize() >= env.usedBytes() + 64 << 10)
            }
            env.close()
        }
        let env = try Environment(path: path)
        let db = try env.database("t")
        let keys = Array(0..<10) + Array(1000..<1200)
        let (count, values) = try env.read { txn in (try txn.count(db), try keys.map { try txn.get(db, key($0)) }) }
        #expect(count == 210)
        #expect(values.allSatisfy { $0 == value })
    }

    @Test func readersSeeASnapshot() throws {
        let env = try Environment(path: tempDir())
        let db = try env.database("t")
        try env.write { try $0.put(db, [1], [1]) }
        try env.read { txn in
            try env.write { try $0.put(db, [1], [2]) }
            let v7 = try txn.get(db, [1])
            #expect(v7 == [1])
        }
        #expect(try env.read { try $0.get(db, [1]) } == [2])
    }
}
