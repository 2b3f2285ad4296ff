import Foundation
import Testing
import Ledger

/// The hand-written stored form of events: it must read back what it
/// wrote, read what earlier builds wrote through Foundation's JSONEncoder,
/// agree with the `Codable` conformance, and refuse damage without crashing.
struct EventCodecTests {
    static let inventory = InventoryRecord(total: 64, reserved: 2, minUnit: 1, maxUnit: 16, stepSize: 2, allocationRatio: 1.5, updated: 77)
    static let allocations = ConsumerAllocations(
        consumer: "c1", project: "p/ü", user: "u \"q\"", consumerType: nil,
        allocations: ["rp-b": ["VCPU": 2, "MEMORY_MB": 1024], "rp-a": ["CUSTOM_X": 9_223_372_036_854_775_807]])

    static let events: [Event] = {
        let payloads: [EventPayload] = [
            .providerCreated(uuid: "rp-a", name: "", parent: nil),
            .providerCreated(uuid: "rp-b", name: "compute/1 ☃ \u{1F600}", parent: "rp-a"),
            .providerUpdated(uuid: "rp-b", name: "tab\tnew\nline\\", parent: nil),
            .providerDeleted(uuid: "rp-b"),
            .inventoriesReplaced(provider: "rp-a", inventories: ["VCPU": inventory, "DISK_GB": InventoryRecord(total: 1)]),
            .inventoriesReplaced(provider: "rp-a", inventories: [:]),
            .resourceClassCreated(name: "CUSTOM_A"),
            .resourceClassRenamed(from: "CUSTOM_A", to: "CUSTOM_B"),
            .resourceClassDeleted(name: "CUSTOM_B"),
            .traitCreated(name: "CUSTOM_T"),
            .traitDeleted(name: "CUSTOM_T"),
            .providerTraitsReplaced(provider: "rp-a", traits: ["HW_CPU_X86_AVX", "CUSTOM_T"]),
            .providerTraitsReplaced(provider: "rp-a", traits: []),
            .providerAggregatesReplaced(provider: "rp-a", aggregates: ["agg-1", "agg-2"], bumpsGeneration: false),
            .allocationsReplaced(consumers: [allocations,
                                             ConsumerAllocations(consumer: "c2", project: "p", user: "u", consumerType: "MIGRATION", allocations: [:])]),
            .allocationsDeleted(consumer: "c1"),
            .reshaped(inventories: ["rp-a": ["VCPU": inventory], "rp-b": [:]], consumers: [allocations]),
        ]
        return payloads.enumerated().map { n, p in
            Event(seq: UInt64(n + 1), time: 1_764_000_000_123_456 + Int64(n),
                  context: EventContext(requestID: "req-\(n)", actor: Actor(user: "admin", project: n % 2 == 0 ? "admin" : nil),
                                        microversion: "1.\(n)"),
                  payload: p)
        }
    }()

    @Test func readsBackWhatItWrites() throws {
        for e in Self.events {
            let bytes = try e.encoded()
            #expect(try Event.decoded(bytes) == e, "\(e.payload.type)")
            #expect(try e.encoded() == bytes, "equal events must be equal bytes")
            #expect(bytes.allSatisfy { $0 < 0x80 }, "the stored form is ASCII")
        }
    }

    @Test func readsWhatEarlierBuildsWrote() throws {
        for e in Self.events {
            let old = try e.encodedWithFoundation()
            #expect(try Event.decoded(old) == e, "\(String(decoding: old, as: UTF8.self))")
            #expect(try Event.decodedWithFoundation(try e.encoded()) == e, "the Codable conformance reads the new form")
        }
    }

    @Test func storedFormIsTheDocumentedJSON() throws {
        let e = Self.events[14]
        let text = String(decoding: try e.encoded(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"actor":{"project":"admin","user":"admin"},"microversion":"1.14","payload":{"consumers":[{"allocations":{"rp-a":{"CUSTOM_X":9223372036854775807},"rp-b":{"MEMORY_MB":1024,"VCPU":2}},"consumer_uuid":"c1","project_id":"p/\u00fc","user_id":"u \"q\""}"#), "\(text)")
        #expect(text.hasSuffix(#""request_id":"req-14","seq":15,"time":1764000000123470,"type":"AllocationsReplaced","version":1}"#), "\(text)")
    }

    @Test func refusesDamageWithoutCrashing() throws {
        let bytes = try Self.events[16].encoded()
        for n in 0..<bytes.count {
            #expect(throws: (any Error).self) { try Event.decoded(Array(bytes[0..<n])) }
        }
        for bad in [#"{"seq":1}"#, #"[]"#, #"{"seq":"x"}"#, "", "nul", #"{"actor":{"user":"a"},"microversion":"1.0","payload":{},"request_id":"r","seq":1,"time":1,"type":"Nope","version":1}"#,
                    #"{"actor":{"user":"a"},"microversion":"1.0","payload":{"uuid":"x"},"request_id":"r","seq":1,"time":1,"type":"ResourceProviderDeleted","version":2}"#,
                    #"{"actor":{"user":"a"},"microversion":"1.0","payload":{"uuid":"x"},"request_id":"r","seq":1,"time":99999999999999999999,"type":"ResourceProviderDeleted","version":1}"#] {
            #expect(throws: (any Error).self, "\(bad)") { try Event.decoded(Array(bad.utf8)) }
        }
    }
}
