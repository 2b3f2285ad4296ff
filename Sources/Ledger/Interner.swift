import Foundation

/// Gives each distinct byte string a dense id (0, 1, 2, … in order of first
/// sight), so a fold can keep its state in arrays indexed by id instead of
/// dictionaries keyed by `String`: a uuid is hashed once per event, straight
/// from the stored event's bytes, and never becomes a `String` until the
/// fold's result is written out.
struct Interner {
    /// Every key's bytes, one after another.
    private(set) var arena: [UInt8] = []
    /// Where each id's bytes start in `arena`, and (last) where the last one's end.
    private(set) var starts: [Int] = [0]
    /// Open addressing, linear probing. A slot holds what a lookup compares
    /// (part of the hash, the key's place in `arena`) so a miss touches no
    /// other memory; id -1 is an empty slot.
    private struct Slot {
        var hash: UInt32 = 0
        var id: Int32 = -1
        var start = 0
        var count = 0
    }
    private var slots = [Slot](repeating: Slot(), count: 1024)
    /// The ids with a slot: all of them but after `take(_:indexing: false)`, until `indexAll`.
    private var indexed = 0

    var count: Int { starts.count - 1 }

    /// The id of `key`, new if it was never seen.
    mutating func id(_ key: UnsafeRawBufferPointer) -> Int32 {
        let (s, tag, found) = find(key)
        if let found { return found }
        let new = Int32(count)
        slots[s] = Slot(hash: tag, id: new, start: arena.count, count: key.count)
        arena.append(contentsOf: key)
        starts.append(arena.count)
        indexed = count
        if count * 2 > slots.count { grow() }
        return new
    }

    mutating func id(_ key: String) -> Int32 {
        var key = key
        return key.withUTF8 { id(UnsafeRawBufferPointer($0)) }
    }

    /// The id of `key` if it was seen, without adding it.
    func existing(_ key: String) -> Int32? {
        var key = key
        return key.withUTF8 { find(UnsafeRawBufferPointer($0)).id }
    }

    /// The slot holding `key`, or the empty slot where it would go, with
    /// the hash tag it is stored under.
    private func find(_ key: UnsafeRawBufferPointer) -> (slot: Int, tag: UInt32, id: Int32?) {
        precondition(indexed == count, "a lookup in an interner that took keys without indexing them")
        let h = Interner.hash(key)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[s]
            if slot.id < 0 { return (s, tag, nil) }
            if slot.hash == tag && slot.count == key.count && equals(slot.start, key) { return (s, tag, slot.id) }
            s = (s + 1) & mask
        }
    }

    func string(_ id: Int32) -> String {
        let (start, end) = (starts[Int(id)], starts[Int(id) + 1])
        return arena.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self) }
    }

    /// The keys from id `first` on, for another interner to take in the same
    /// order (`take`): how two interners that share a prefix of ids catch up.
    struct Tail {
        var bytes: [UInt8] = []
        /// Where each key ends in `bytes`.
        var ends: [Int] = []
    }

    func tail(from first: Int) -> Tail {
        guard first < count else { return Tail() }
        let base = starts[first]
        return Tail(bytes: Array(arena[base...]), ends: starts[(first + 1)...].map { $0 - base })
    }

    /// Adds the keys of `tail`, which must all be new: they get the ids they
    /// had where they came from. Without `indexing` they only get their
    /// bytes, for an interner that is read by id (the pipelined replay's
    /// worker: hashing a million consumers twice was 7% of its time) until
    /// `indexAll`; a lookup before that stops the process.
    mutating func take(_ tail: Tail, indexing: Bool = true) {
        if !indexing {
            let base = arena.count
            arena += tail.bytes
            starts += tail.ends.map { base + $0 }
            return
        }
        indexAll()
        var start = 0
        tail.bytes.withUnsafeBytes { b in
            for end in tail.ends {
                let expected = Int32(count)
                let got = id(UnsafeRawBufferPointer(rebasing: b[start..<end]))
                precondition(got == expected, "an interner took a key it already held")
                start = end
            }
        }
    }

    /// The bytes of an id (a copy).
    func bytes(_ id: Int32) -> [UInt8] { Array(arena[starts[Int(id)]..<starts[Int(id) + 1]]) }

    /// Whether the key at `start` (of the same length) is `key`.
    private func equals(_ start: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { a in
            var k = 0
            while k + 8 <= key.count {
                if a.loadUnaligned(fromByteOffset: start + k, as: UInt64.self) != key.loadUnaligned(fromByteOffset: k, as: UInt64.self) {
                    return false
                }
                k += 8
            }
            while k < key.count {
                if a[start + k] != key[k] { return false }
                k += 1
            }
            return true
        }
    }

    /// Gives every key taken without indexing its slot.
    mutating func indexAll() {
        guard indexed < count else { return }
        if count * 2 > slots.count {
            grow()
            return
        }
        for id in indexed..<count { Self.place(id, starts, arena, in: &slots) }
        indexed = count
    }

    /// A table at most half full, with a slot for every key.
    private mutating func grow() {
        var size = slots.count * 2
        while count * 2 > size { size *= 2 }
        var bigger = [Slot](repeating: Slot(), count: size)
        for id in 0..<count { Self.place(id, starts, arena, in: &bigger) }
        slots = bigger
        indexed = count
    }

    /// Gives key `id` a slot in `table` (a power of two long, with room), which must not hold it.
    private static func place(_ id: Int, _ starts: [Int], _ arena: [UInt8], in table: inout [Slot]) {
        let start = starts[id], end = starts[id + 1]
        let h = arena.withUnsafeBytes { Interner.hash(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
        let mask = table.count - 1
        var s = Int(truncatingIfNeeded: h) & mask
        while table[s].id >= 0 { s = (s + 1) & mask }
        table[s] = Slot(hash: UInt32(truncatingIfNeeded: h >> 32), id: Int32(id), start: start, count: end - start)
    }

    /// A multiply-and-fold hash over 8-byte words (not for untrusted
    /// collision resistance: the keys come from our own log).
    static func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(p.count)
        var i = 0
        while i + 8 <= p.count {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < p.count {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* k
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }
}
