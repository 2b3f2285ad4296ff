import PlacementJSON
import Testing
@testable import Ledger

/// The stored form of view records: binary now, JSON from earlier versions still read.
@Suite struct RecordCodecTests {
    func randomProvider(_ rng: inout some RandomNumberGenerator) -> ProviderRecord {
        func name() -> String { String((0..<Int.random(in: 0...12, using: &rng)).map { _ in "abcé_Ω1-".randomElement(using: &rng)! }) }
        var inventories: [String: InventoryRecord] = [:]
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            inventories[name()] = InventoryRecord(
                total: .random(in: 1...Limits.maxInt, using: &rng), reserved: .random(in: 0...5, using: &rng),
                minUnit: 1, maxUnit: .random(in: 1...Limits.maxInt, using: &rng), stepSize: .random(in: 1...9, using: &rng),
                allocationRatio: [1.0, 16.0, 1.5, 0.0001, 3.40282e+38].randomElement(using: &rng)!,
                updated: .random(in: 0...Int64.max, using: &rng))
        }
        return ProviderRecord(uuid: name(), name: name(), generation: .random(in: 0...Int64.max, using: &rng),
                              parent: Bool.random(using: &rng) ? name() : nil, root: name(), inventories: inventories,
                              usages: Dictionary((0..<3).map { _ in (name(), Int64.random(in: Int64.min...Int64.max, using: &rng)) }) { a, _ in a },
                              traits: (0..<3).map { _ in name() }, aggregates: (0..<2).map { _ in name() },
                              created: .random(in: Int64.min...Int64.max, using: &rng), updated: 0)
    }

    @Test func providersRoundTripInBothForms() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let p = randomProvider(&rng)
            let binary = p.storedBytes
            #expect(binary.first == BinaryRecord.tag)
            #expect(try ProviderRecord(stored: binary) == p)
            // The JSON form earlier versions wrote still reads back to the same record.
            #expect(try ProviderRecord(stored: JSONWriter.bytes(p.json)) == p)
            #expect(StoredForm.normalized(.providers, JSONWriter.bytes(p.json)) == binary)
        }
    }

    @Test func generationReadsWithoutFullDecode() throws {
        var rng = SystemRandomNumberGenerator()
        let store = MemoryStore()
        let views = Views(store)
        for _ in 0..<50 {
            let p = randomProvider(&rng)
            try store.put(.providers, "a", p.storedBytes)
            #expect(try views.providerGeneration("a") == p.generation)
            try store.put(.providers, "a", JSONWriter.bytes(p.json))
            #expect(try views.providerGeneration("a") == p.generation)
        }
        #expect(try views.providerGeneration("missing") == nil)
    }

    @Test func otherRecordsRoundTrip() throws {
        let c = ConsumerRecord(uuid: "c", project: "p", user: "u", consumerType: nil, generation: 3,
                               allocations: ["rp1": ["VCPU": 2, "DISK_GB": -1], "rp2": [:]], created: -5, updated: 7)
        #expect(try ConsumerRecord(stored: c.storedBytes) == c)
        var typed = c
        typed.consumerType = "INSTANCE"
        #expect(try ConsumerRecord(stored: typed.storedBytes) == typed)
        #expect(typed.storedBytes != c.storedBytes)
        let u = UsageRecord(resources: ["VCPU": 1 << 40], consumers: 2)
        #expect(try UsageRecord(stored: u.storedBytes) == u)
        for n in [NamedRecord(name: "CUSTOM_X", created: 1, updated: nil), NamedRecord(name: "CUSTOM_Y", created: 1, updated: 0)] {
            #expect(try NamedRecord(stored: n.storedBytes) == n)
            #expect(try NamedRecord(stored: JSONWriter.bytes(n.json)) == n)
        }
    }

    @Test func damagedBytesAreErrorsNotCrashes() throws {
        var rng = SystemRandomNumberGenerator()
        let full = randomProvider(&rng).storedBytes
        for cut in 0..<full.count {
            #expect(throws: (any Error).self) { try ProviderRecord(stored: Array(full.prefix(cut))) }
        }
        #expect(throws: (any Error).self) { try ProviderRecord(stored: [BinaryRecord.tag, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) }
    }
}

/// Key parts callers choose (names, project and user ids) fit any LMDB key.
@Suite struct KeyPartTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8))
            == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func shortPartsStayLongOnesAreHashed() {
        #expect(KeyPart.of("project-1") == "project-1")
        for odd in ["", String(repeating: "x", count: 65), "a\u{0}b", "\u{1}abc", String(repeating: "é", count: 40)] {
            let k = KeyPart.of(odd)
            #expect(k.hasPrefix("\u{1}") && k.utf8.count == 65)
            #expect(k == KeyPart.of(odd))
        }
        #expect(KeyPart.of(String(repeating: "x", count: 65)) != KeyPart.of(String(repeating: "x", count: 66)))
    }
}
