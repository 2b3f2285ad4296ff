import Foundation
import Testing
@testable import PlacementJSON

/// The compiled schema (valid or not, without allocations) must agree with
/// the full checker on every instance: a body it accepts skips the checker.
@Suite struct CompiledSchemaTests {
    static let schemas: [(String, Schema)] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../schemas/requests")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted().map { name in
            (name, try! Schema(text: try! String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)))
        }
    }()

    static let uuid = "7d2a4f3e-1b8c-4d5e-9f60-0a1b2c3d4e5f"
    static let seeds: [String] = [
        #"{"allocations": {"\#(uuid)": {"resources": {"VCPU": 1, "MEMORY_MB": 512}, "generation": 3}}, "project_id": "p", "user_id": "u"}"#,
        #"{"allocations": {"\#(uuid)": {"resources": {"DISK_GB": 10}}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"}"#,
        #"{"allocations": [{"resource_provider": {"uuid": "\#(uuid)"}, "resources": {"VCPU": 2}}], "project_id": "p", "user_id": "u"}"#,
        #"{"\#(uuid)": {"allocations": {"\#(uuid)": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": 1}}"#,
        #"{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8, "reserved": 0, "min_unit": 1, "max_unit": 8, "step_size": 1, "allocation_ratio": 16.0}}}"#,
        #"{"resource_class": "CUSTOM_GPU", "total": 4, "reserved": 1, "allocation_ratio": 1.5, "resource_provider_generation": 2}"#,
        #"{"name": "compute-1", "uuid": "\#(uuid)", "parent_provider_uuid": "\#(uuid)"}"#,
        #"{"name": "CUSTOM_FOO"}"#,
        #"{"traits": ["HW_CPU_X86_AVX", "CUSTOM_X"], "resource_provider_generation": 1}"#,
        #"{"aggregates": ["\#(uuid)"], "resource_provider_generation": 0}"#,
        #"["\#(uuid)"]"#,
        #"{"inventories": {"\#(uuid)": {"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4}}}}, "allocations": {"\#(uuid)": {"allocations": {"\#(uuid)": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}}}"#,
        #"{"resources": "VCPU:1,MEMORY_MB:512", "limit": "10", "member_of": "in:\#(uuid)", "required": "HW_CPU_X86_AVX,!CUSTOM_X", "group_policy": "none", "in_tree": "\#(uuid)"}"#,
        #"{"name": "x", "uuid": "\#(uuid)", "member_of": "\#(uuid)", "resources": "VCPU:1", "in_tree": "\#(uuid)"}"#,
        #"{"project_id": "p", "user_id": "u", "consumer_type": "all"}"#,
    ]

    static let scalars: [JSON] = [
        0, 1, -1, 2, 255, 256, 2_147_483_647, 2_147_483_648, .bigInt("99999999999999999999"), .bigInt("-99999999999999999999"),
        1.5, 16.0, -0.5, "", "x", "VCPU", "custom_x", "CUSTOM_X", "HW_CPU_X86_AVX", .string(uuid), .string(uuid.uppercased()),
        .string("urn:uuid:" + uuid), .string("{" + uuid + "}"), .string(uuid.replacingOccurrences(of: "-", with: "")),
        .string(String(uuid.dropLast())), "ÄÖ", "in:a,b", "10", "0", "01", true, false, .null, [], [:],
        .string(String(repeating: "a", count: 256)), "none", "isolate", "INSTANCE", "!", "10\n",
    ]
    static let names = ["allocations", "resources", "project_id", "user_id", "generation", "consumer_generation", "consumer_type",
                        "total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio", "resource_provider_generation",
                        "inventories", "name", "uuid", "parent_provider_uuid", "traits", "aggregates", "resource_class", "limit",
                        "member_of", "required", "in_tree", "resource_provider", "mappings", "VCPU", uuid, "extra", ""]

    /// One random change somewhere in `v`.
    static func mutate(_ v: JSON, _ rng: inout XorShift, depth: Int = 0) -> JSON {
        let here = Int.random(in: 0..<4, using: &rng) == 0 || depth > 6
        switch v {
        case .object(var o) where !o.isEmpty && !here:
            let key = o.keys.randomElement(using: &rng)!
            o[key] = mutate(o[key]!, &rng, depth: depth + 1)
            return .object(o)
        case .array(var a) where !a.isEmpty && !here:
            let i = Int.random(in: 0..<a.count, using: &rng)
            a[i] = mutate(a[i], &rng, depth: depth + 1)
            return .array(a)
        case .object(var o):
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !o.isEmpty: o[o.keys.randomElement(using: &rng)!] = nil
            case 1: o[names.randomElement(using: &rng)!] = scalars.randomElement(using: &rng)!
            case 2 where !o.isEmpty:
                let key = o.keys.randomElement(using: &rng)!
                let value = o[key]!
                o[key] = nil
                o[names.randomElement(using: &rng)!] = value
            default: return scalars.randomElement(using: &rng)!
            }
            return .object(o)
        case .array(var a):
            switch Int.random(in: 0..<3, using: &rng) {
            case 0 where !a.isEmpty: a.append(a.randomElement(using: &rng)!)
            case 1 where !a.isEmpty: a.removeFirst()
            default: a.append(scalars.randomElement(using: &rng)!)
            }
            return .array(a)
        default:
            return scalars.randomElement(using: &rng)!
        }
    }

    @Test func agreesWithTheFullCheckOnMutatedBodies() throws {
        #expect(Self.schemas.count >= 40)
        var rng = XorShift(state: 2026)
        var accepted = 0, refused = 0
        for seed in Self.seeds.map({ try! JSONParser.parse($0) }) {
            var instance = seed
            for step in 0..<120 {
                // Mostly one change from the seed; sometimes changes pile up.
                instance = Self.mutate(step % 4 == 0 ? instance : seed, &rng)
                for (name, schema) in Self.schemas {
                    let full = schema.validateWithoutCompiled(instance) == nil
                    let fast = schema.compiled.accepts(instance)
                    #expect(fast == full, "\(name): compiled says \(fast), full check \(full) for \(PythonRepr.of(instance))")
                    if full { accepted += 1 } else { refused += 1 }
                }
            }
        }
        // Both answers are exercised, and the seeds are valid somewhere.
        #expect(accepted > 300 && refused > 10_000, "accepted \(accepted), refused \(refused)")
        for (n, text) in Self.seeds.enumerated() {
            let v = try JSONParser.parse(text)
            #expect(Self.schemas.contains { $0.1.validate(v) == nil }, "seed \(n) is valid under no schema")
        }
    }

    @Test func uuidFormatAsPython() {
        let s = CompiledSchema(try! JSONParser.parse(#"{"format": "uuid"}"#))
        for text in [Self.uuid, Self.uuid.uppercased(), "urn:uuid:" + Self.uuid, "URN:UUID:" + Self.uuid, "{" + Self.uuid + "}",
                     Self.uuid.replacingOccurrences(of: "-", with: ""), "uuid:" + Self.uuid, "urn:" + Self.uuid, "--" + Self.uuid,
                     String(Self.uuid.dropLast()), Self.uuid + "0", "g" + Self.uuid.dropFirst(), "uuid:urn:" + Self.uuid,
                     "\u{FF10}" + Self.uuid.dropFirst(), ""] {
            #expect(s.accepts(.string(text)) == (text.unicodeUUIDHexDigits != nil), "\(text)")
        }
        #expect(s.accepts(.string("URN:UUID:{" + Self.uuid.uppercased() + "}")))
        #expect(!s.accepts(.string("uuid:urn:" + Self.uuid)))
        #expect(("{" + Self.uuid.uppercased() + "}").canonicalUUID == Self.uuid.lowercased())
    }

    /// The byte scan of ASCII strings answers as the `Character` forms, on
    /// strings made of the characters that matter, for validity, digits and
    /// the canonical form.
    @Test func asciiUUIDScanAgreesWithCharacters() {
        var rng = XorShift(state: 0x5EED)
        let alphabet = Array("0123456789abcdefABCDEFgG{}-:urnidURNID ")
        let hex = Array("0123456789abcdefABCDEF")
        var valid = 0
        for n in 0..<20_000 {
            var text: String
            if n % 2 == 0 {
                text = String((0..<32).map { _ in hex[Int(rng.next() % UInt64(hex.count))] })
                for _ in 0..<Int(rng.next() % 4) {
                    let extra = ["-", "{", "}", "urn:", "uuid:", "URN:", "x", "0"][Int(rng.next() % 8)]
                    let at = Int(rng.next() % UInt64(text.count + 1))
                    text.insert(contentsOf: extra, at: text.index(text.startIndex, offsetBy: at))
                }
            } else {
                text = String((0..<Int(rng.next() % 45)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            }
            #expect(text.isUUIDLike == (text.unicodeUUIDHexDigits != nil), "\(text)")
            #expect(text.uuidHexDigits == text.unicodeUUIDHexDigits, "\(text)")
            #expect(text.canonicalUUID == text.unicodeCanonicalUUID, "\(text)")
            if text.isUUIDLike { valid += 1 }
        }
        #expect(valid > 2_000, "\(valid) valid")
    }
}

/// xorshift64*: deterministic, so a failing case can be replayed.
struct XorShift: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}
