import PlacementJSON

/// The stored form of view records: a compact binary layout, written and
/// read field by field in a fixed order, so equal records are equal bytes.
///
/// Why not JSON (the first form): decoding a provider record through a JSON
/// tree was most of the CPU of a GET and of a write, and JSON records made
/// the undo log three times larger. Records written as JSON by earlier
/// versions start with `{` and are still read; every binary record starts
/// with `BinaryRecord.tag`, a byte JSON never starts with.
enum BinaryRecord {
    static let tag: UInt8 = 0x01
}

struct RecordWriter {
    var bytes: [UInt8]

    /// A record after `lead`, the byte an undo entry starts with (1: a record follows), if any.
    /// One allocation: the buffer is reserved before the first byte goes in
    /// (an array literal first and a reserve after it allocated twice).
    init(capacity: Int = 128, lead: UInt8? = nil) {
        bytes = []
        bytes.reserveCapacity(capacity)
        if let lead { bytes.append(lead) }
        bytes.append(BinaryRecord.tag)
    }

    /// Bytes without the tag: a piece of a record.
    init(bare capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func uint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    /// Zigzag, so small negative numbers stay short.
    mutating func int(_ v: Int64) { uint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
    mutating func double(_ v: Double) {
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            uint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
    mutating func optionalString(_ s: String?) {
        if let s {
            bytes.append(1)
            string(s)
        } else {
            bytes.append(0)
        }
    }
    mutating func strings(_ list: [String]) {
        uint(UInt64(list.count))
        for s in list { string(s) }
    }
    /// Keys in sorted order, so the bytes do not depend on dictionary order.
    mutating func counts(_ d: [String: Int64]) {
        uint(UInt64(d.count))
        for k in d.keys.sorted() {
            string(k)
            int(d[k]!)
        }
    }
}

struct RecordReader {
    let bytes: [UInt8]
    var at = 1

    init(_ bytes: [UInt8]) throws {
        guard bytes.first == BinaryRecord.tag else { throw RecordDecodingError(what: "unknown record format") }
        self.bytes = bytes
    }

    mutating func byte() throws -> UInt8 {
        guard at < bytes.count else { throw RecordDecodingError(what: "record ends early") }
        defer { at += 1 }
        return bytes[at]
    }
    mutating func uint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw RecordDecodingError(what: "integer too long") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
    mutating func int() throws -> Int64 {
        let u = try uint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
    mutating func count() throws -> Int {
        let n = try uint()
        guard n <= UInt64(bytes.count - at) else { throw RecordDecodingError(what: "length past the end") }
        return Int(n)
    }
    mutating func double() throws -> Double {
        guard at + 8 <= bytes.count else { throw RecordDecodingError(what: "record ends early") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        at += 8
        return Double(bitPattern: bits)
    }
    mutating func string() throws -> String {
        let n = try count()
        defer { at += n }
        return bytes.withUnsafeBufferPointer { String(decoding: $0[at..<(at + n)], as: UTF8.self) }
    }
    mutating func optionalString() throws -> String? {
        try byte() == 0 ? nil : string()
    }
    mutating func strings() throws -> [String] {
        let n = try count()
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try string()) }
        return out
    }
    mutating func counts() throws -> [String: Int64] {
        let n = try count()
        var out: [String: Int64] = .init(minimumCapacity: n)
        for _ in 0..<n {
            let k = try string()
            out[k] = try int()
        }
        return out
    }
}

/// A view record with both stored forms.
protocol StoredRecord {
    func write(to w: inout RecordWriter)
    init(reader r: inout RecordReader) throws
    /// The first stored form, still read; also how `verify` shows a record.
    var json: JSON { get }
    init(json: JSON) throws
}

extension StoredRecord {
    var storedBytes: [UInt8] {
        var w = RecordWriter()
        write(to: &w)
        return w.bytes
    }
    init(stored bytes: [UInt8]) throws {
        if bytes.first == UInt8(ascii: "{") {
            try self.init(json: try JSONParser.parse(bytes))
        } else {
            var r = try RecordReader(bytes)
            try self.init(reader: &r)
        }
    }
}

extension InventoryRecord {
    func write(to w: inout RecordWriter) {
        w.int(total); w.int(reserved); w.int(minUnit); w.int(maxUnit); w.int(stepSize)
        w.double(allocationRatio); w.int(updated)
    }
    init(reader r: inout RecordReader) throws {
        self.init(total: try r.int(), reserved: try r.int(), minUnit: try r.int(), maxUnit: try r.int(),
                  stepSize: try r.int(), allocationRatio: try r.double(), updated: try r.int())
    }
}

extension ProviderRecord {
    func write(to w: inout RecordWriter) {
        w.string(uuid); w.string(name); w.int(generation); w.optionalString(parent); w.string(root)
        w.uint(UInt64(inventories.count))
        for rc in inventories.keys.sorted() {
            w.string(rc)
            inventories[rc]!.write(to: &w)
        }
        w.counts(usages); w.strings(traits); w.strings(aggregates); w.int(created); w.int(updated)
    }
    init(reader r: inout RecordReader) throws {
        let uuid = try r.string(), name = try r.string(), generation = try r.int()
        let parent = try r.optionalString(), root = try r.string()
        let n = try r.count()
        var inventories: [String: InventoryRecord] = .init(minimumCapacity: n)
        for _ in 0..<n {
            let rc = try r.string()
            inventories[rc] = try InventoryRecord(reader: &r)
        }
        self.init(uuid: uuid, name: name, generation: generation, parent: parent, root: root, inventories: inventories,
                  usages: try r.counts(), traits: try r.strings(), aggregates: try r.strings(),
                  created: try r.int(), updated: try r.int())
    }
}

extension ConsumerRecord {
    func write(to w: inout RecordWriter) {
        w.string(uuid); w.string(project); w.string(user); w.optionalString(consumerType); w.int(generation)
        w.uint(UInt64(allocations.count))
        for rp in allocations.keys.sorted() {
            w.string(rp)
            w.counts(allocations[rp]!)
        }
        w.int(created); w.int(updated)
    }
    init(reader r: inout RecordReader) throws {
        let uuid = try r.string(), project = try r.string(), user = try r.string()
        let type = try r.optionalString(), generation = try r.int()
        let n = try r.count()
        var allocations: [String: [String: Int64]] = .init(minimumCapacity: n)
        for _ in 0..<n {
            let rp = try r.string()
            allocations[rp] = try r.counts()
        }
        self.init(uuid: uuid, project: project, user: user, consumerType: type, generation: generation,
                  allocations: allocations, created: try r.int(), updated: try r.int())
    }
}

extension UsageRecord {
    func write(to w: inout RecordWriter) { w.counts(resources); w.int(consumers) }
    init(reader r: inout RecordReader) throws {
        self.init(resources: try r.counts(), consumers: try r.int())
    }
}

extension NamedRecord {
    func write(to w: inout RecordWriter) {
        w.string(name); w.int(created)
        if let updated {
            w.bytes.append(1)
            w.int(updated)
        } else {
            w.bytes.append(0)
        }
    }
    init(reader r: inout RecordReader) throws {
        let name = try r.string(), created = try r.int()
        let updated: Int64? = try r.byte() == 0 ? nil : r.int()
        self.init(name: name, created: created, updated: updated)
    }
}

/// The record type each table holds, for tools that show or compare stored bytes.
public enum StoredForm {
    static func type(of table: Table) -> (any StoredRecord.Type)? {
        switch table {
        case .providers: ProviderRecord.self
        case .consumers: ConsumerRecord.self
        case .usages: UsageRecord.self
        case .resourceClasses, .traits: NamedRecord.self
        default: nil
        }
    }

    /// The bytes as the current version writes them (JSON records re-encoded), so two stores compare equal
    /// when they hold the same records.
    public static func normalized(_ table: Table, _ bytes: [UInt8]) -> [UInt8] {
        guard let t = type(of: table), let r = try? t.init(stored: bytes) else { return bytes }
        return r.storedBytes
    }

    /// A readable rendering of stored bytes (JSON for records).
    public static func describe(_ table: Table, _ bytes: [UInt8]) -> String {
        guard let t = type(of: table), let r = try? t.init(stored: bytes) else { return String(decoding: bytes, as: UTF8.self) }
        return JSONWriter.string(r.json)
    }
}
