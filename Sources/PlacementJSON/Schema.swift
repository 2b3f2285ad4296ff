import Foundation

/// One failed check, shaped like a `jsonschema.ValidationError`, so that
/// `description` reads as Placement's 400 messages do.
public struct SchemaViolation: Error, Sendable, CustomStringConvertible {
    public enum PathItem: Sendable, Equatable {
        case key(String)
        case index(Int)
        var repr: String {
            switch self {
            case .key(let k): "[" + PythonRepr.string(k) + "]"
            case .index(let i): "[\(i)]"
            }
        }
    }
    /// The first line, e.g. "0 is less than the minimum of 1".
    public let message: String
    /// The keyword that failed ("minimum", "required", …).
    public let keyword: String
    public let instancePath: [PathItem]
    /// Path to the keyword inside the schema (the keyword itself last).
    public let schemaPath: [PathItem]
    let schema: JSON
    let instance: JSON
    /// For anyOf / oneOf: the failures of each branch.
    let context: [SchemaViolation]

    /// Python's `str(ValidationError)`.
    public var description: String {
        let sp = "schema" + schemaPath.dropLast().map(\.repr).joined()
        let ip = "instance" + instancePath.map(\.repr).joined()
        var shown = schema
        if case .object(var o) = schema {
            for annotation in ["$schema", "$id", "title", "description"] { o[annotation] = nil }
            shown = .object(o)
        }
        return "\(message)\n\nFailed validating \(PythonRepr.string(keyword)) in \(sp):\n    \(PythonRepr.of(shown))\n\nOn \(ip):\n    \(PythonRepr.of(instance))"
    }
}

/// A JSON Schema (the subset Placement's schemas use: type, properties,
/// patternProperties, additionalProperties, required, min/maxProperties,
/// minimum, maximum, min/maxLength, pattern, enum, const, items, min/maxItems,
/// uniqueItems, anyOf, oneOf, allOf, not, format "uuid"), checked the way the
/// `jsonschema` package checks it, down to which error it reports first.
public final class Schema: @unchecked Sendable {
    public let root: JSON
    private var regexCache: [String: NSRegularExpression] = [:]
    private var simpleCache: [String: SimplePattern?] = [:]
    private let lock = NSLock()

    /// Answers valid-or-not without allocating; the checks below word the errors.
    let compiled: CompiledSchema

    public init(_ root: JSON) {
        self.root = root
        compiled = CompiledSchema(root)
    }

    public convenience init(text: String) throws {
        self.init(try JSONParser.parse(text))
    }

    /// nil when `instance` is valid; otherwise the error `jsonschema.validate` would raise.
    public func validate(_ instance: JSON) -> SchemaViolation? {
        compiled.accepts(instance) ? nil : validateWithoutCompiled(instance)
    }

    /// The full check alone (the tests hold the compiled one to it).
    func validateWithoutCompiled(_ instance: JSON) -> SchemaViolation? {
        let errors = check(instance, root, path: [], schemaPath: [])
        return bestMatch(errors)
    }

    // MARK: best_match, as jsonschema.exceptions does it

    private static let weak: Set<String> = ["anyOf", "oneOf"]

    private func relevanceLess(_ a: SchemaViolation, _ b: SchemaViolation) -> Bool {
        // Ordering by (-len(path), weak-ness); the larger wins in best_match.
        if a.instancePath.count != b.instancePath.count { return a.instancePath.count > b.instancePath.count }
        let aw = !Schema.weak.contains(a.keyword), bw = !Schema.weak.contains(b.keyword)
        if aw != bw { return !aw }
        return false
    }

    private func bestMatch(_ errors: [SchemaViolation]) -> SchemaViolation? {
        guard var best = errors.first else { return nil }
        for e in errors.dropFirst() where relevanceLess(best, e) { best = e }
        while !best.context.isEmpty {
            // The smallest by relevance: deepest first.
            let sorted = best.context.enumerated().sorted { l, r in
                if relevanceLess(r.element, l.element) { return true }
                if relevanceLess(l.element, r.element) { return false }
                return l.offset < r.offset
            }.map(\.element)
            if sorted.count >= 2, !relevanceLess(sorted[0], sorted[1]), !relevanceLess(sorted[1], sorted[0]) {
                return best
            }
            best = sorted[0]
        }
        return best
    }

    // MARK: checks

    static func typeMatches(_ v: JSON, _ type: String) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("integer", .int), ("integer", .bigInt): true
        case ("integer", .double(let d)): d.isFinite && d == d.rounded()
        case ("number", .int), ("number", .bigInt), ("number", .double): true
        default: false
        }
    }

    private func simplePattern(_ pattern: String) -> SimplePattern? {
        lock.lock(); defer { lock.unlock() }
        if let p = simpleCache[pattern] { return p }
        let p = SimplePattern(pattern)
        simpleCache[pattern] = .some(p)
        return p
    }

    private func regex(_ pattern: String) -> NSRegularExpression? {
        lock.lock(); defer { lock.unlock() }
        if let r = regexCache[pattern] { return r }
        let r = try? NSRegularExpression(pattern: pattern)
        regexCache[pattern] = r
        return r
    }

    /// Python's `re.search`: the pattern may match anywhere.
    func search(_ pattern: String, _ s: String) -> Bool {
        if let simple = simplePattern(pattern) { return simple.matches(s) }
        guard let r = regex(pattern) else { return false }
        return r.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    static func compare(_ v: JSON, _ bound: JSON) -> Int? {
        // Exact for integers, including ones past 64 bits.
        func digits(_ j: JSON) -> (neg: Bool, mag: String)? {
            switch j {
            case .int(let i): return (i < 0, String(i.magnitude))
            case .bigInt(let s): return s.hasPrefix("-") ? (true, String(s.dropFirst())) : (false, s)
            default: return nil
            }
        }
        if let a = digits(v), let b = digits(bound) {
            if a.neg != b.neg { return a.neg ? -1 : 1 }
            let m: Int = a.mag.count != b.mag.count ? (a.mag.count < b.mag.count ? -1 : 1) : (a.mag < b.mag ? -1 : (a.mag == b.mag ? 0 : 1))
            return a.neg ? -m : m
        }
        guard let x = v.numericValue, let y = bound.numericValue else { return nil }
        return x < y ? -1 : (x == y ? 0 : 1)
    }


    private func check(_ v: JSON, _ schema: JSON, path: [SchemaViolation.PathItem], schemaPath: [SchemaViolation.PathItem]) -> [SchemaViolation] {
        guard case .object(let s) = schema else {
            if schema == .bool(false) {
                return [SchemaViolation(message: "False schema does not allow \(PythonRepr.of(v))", keyword: "False",
                                        instancePath: path, schemaPath: schemaPath, schema: schema, instance: v, context: [])]
            }
            return []
        }
        var errors: [SchemaViolation] = []
        func fail(_ keyword: String, _ message: String, context: [SchemaViolation] = []) {
            errors.append(SchemaViolation(message: message, keyword: keyword, instancePath: path,
                                          schemaPath: schemaPath + [.key(keyword)], schema: schema, instance: v, context: context))
        }
        // The repr is only needed for a message; most checks pass.
        lazy var r = PythonRepr.of(v)
        for (keyword, kv) in s.pairs {
            switch keyword {
            case "type":
                let types: [String] = kv.arrayValue?.compactMap(\.stringValue) ?? [kv.stringValue ?? ""]
                if !types.contains(where: { Schema.typeMatches(v, $0) }) {
                    fail(keyword, "\(r) is not of type \(types.map(PythonRepr.string).joined(separator: ", "))")
                }
            case "properties":
                guard case .object(let o) = v, case .object(let props) = kv else { continue }
                for (name, sub) in props.pairs {
                    if let value = o[name] {
                        errors += check(value, sub, path: path + [.key(name)], schemaPath: schemaPath + [.key(keyword), .key(name)])
                    }
                }
            case "patternProperties":
                guard case .object(let o) = v, case .object(let pats) = kv else { continue }
                for (pattern, sub) in pats.pairs {
                    for (name, value) in o.pairs where search(pattern, name) {
                        errors += check(value, sub, path: path + [.key(name)], schemaPath: schemaPath + [.key(keyword), .key(pattern)])
                    }
                }
            case "additionalProperties":
                guard case .object(let o) = v else { continue }
                let props = s["properties"]?.objectValue?.keys ?? []
                let pats = s["patternProperties"]?.objectValue?.keys ?? []
                let extras = o.keys.filter { k in !props.contains(k) && !pats.contains(where: { search($0, k) }) }
                if case .object = kv {
                    for k in extras {
                        errors += check(o[k]!, kv, path: path + [.key(k)], schemaPath: schemaPath + [.key(keyword)])
                    }
                } else if kv == .bool(false), !extras.isEmpty {
                    let sortedExtras = extras.sorted()
                    if !pats.isEmpty {
                        let verb = extras.count == 1 ? "does" : "do"
                        fail(keyword, "\(sortedExtras.map(PythonRepr.string).joined(separator: ", ")) \(verb) not match any of the regexes: \(pats.sorted().map(PythonRepr.string).joined(separator: ", "))")
                    } else {
                        let verb = extras.count == 1 ? "was" : "were"
                        fail(keyword, "Additional properties are not allowed (\(sortedExtras.map(PythonRepr.string).joined(separator: ", ")) \(verb) unexpected)")
                    }
                }
            case "required":
                guard case .object(let o) = v else { continue }
                for name in kv.arrayValue?.compactMap(\.stringValue) ?? [] where o[name] == nil {
                    fail(keyword, "\(PythonRepr.string(name)) is a required property")
                }
            case "minProperties":
                if case .object(let o) = v, let n = kv.intValue, o.count < n {
                    fail(keyword, n == 1 ? "\(r) should be non-empty" : "\(r) does not have enough properties")
                }
            case "maxProperties":
                if case .object(let o) = v, let n = kv.intValue, o.count > n {
                    fail(keyword, n == 0 ? "\(r) is expected to be empty" : "\(r) has too many properties")
                }
            case "minimum":
                if v.numericValue != nil, let c = Schema.compare(v, kv), c < 0 {
                    fail(keyword, "\(r) is less than the minimum of \(PythonRepr.of(kv))")
                }
            case "maximum":
                if v.numericValue != nil, let c = Schema.compare(v, kv), c > 0 {
                    fail(keyword, "\(r) is greater than the maximum of \(PythonRepr.of(kv))")
                }
            case "minLength":
                if case .string(let str) = v, let n = kv.intValue, str.unicodeScalars.count < n {
                    fail(keyword, n == 1 ? "\(r) should be non-empty" : "\(r) is too short")
                }
            case "maxLength":
                if case .string(let str) = v, let n = kv.intValue, str.unicodeScalars.count > n {
                    fail(keyword, n == 0 ? "\(r) is expected to be empty" : "\(r) is too long")
                }
            case "pattern":
                if case .string(let str) = v, let p = kv.stringValue, !search(p, str) {
                    fail(keyword, "\(r) does not match \(PythonRepr.string(p))")
                }
            case "format":
                if case .string(let str) = v, kv.stringValue == "uuid", !str.isUUIDLike {
                    fail(keyword, "\(r) is not a 'uuid'")
                }
            case "enum":
                if let options = kv.arrayValue, !options.contains(v) {
                    fail(keyword, "\(r) is not one of \(PythonRepr.of(kv))")
                }
            case "const":
                if v != kv { fail(keyword, "\(PythonRepr.of(kv)) was expected") }
            case "items":
                guard case .array(let items) = v else { continue }
                for (n, item) in items.enumerated() {
                    errors += check(item, kv, path: path + [.index(n)], schemaPath: schemaPath + [.key(keyword)])
                }
            case "minItems":
                if case .array(let a) = v, let n = kv.intValue, a.count < n {
                    fail(keyword, n == 1 ? "\(r) should be non-empty" : "\(r) is too short")
                }
            case "maxItems":
                if case .array(let a) = v, let n = kv.intValue, a.count > n {
                    fail(keyword, n == 0 ? "\(r) is expected to be empty" : "\(r) is too long")
                }
            case "uniqueItems":
                if case .array(let a) = v, kv == .bool(true) {
                    var seen: [JSON] = []
                    for item in a {
                        if seen.contains(item) { fail(keyword, "\(r) has non-unique elements"); break }
                        seen.append(item)
                    }
                }
            case "anyOf", "oneOf":
                let branches = kv.arrayValue ?? []
                var all: [SchemaViolation] = []
                var passed = 0
                for (n, b) in branches.enumerated() {
                    let e = check(v, b, path: path, schemaPath: schemaPath + [.key(keyword), .index(n)])
                    if e.isEmpty { passed += 1 } else { all += e }
                }
                if passed == 0 {
                    fail(keyword, "\(r) is not valid under any of the given schemas", context: all)
                } else if keyword == "oneOf", passed > 1 {
                    fail(keyword, "\(r) is valid under each of \(branches.map(PythonRepr.of).joined(separator: ", "))")
                }
            case "allOf":
                for (n, b) in (kv.arrayValue ?? []).enumerated() {
                    errors += check(v, b, path: path, schemaPath: schemaPath + [.key(keyword), .index(n)])
                }
            case "not":
                if check(v, kv, path: path, schemaPath: schemaPath).isEmpty {
                    fail(keyword, "\(r) should not be valid under \(PythonRepr.of(kv))")
                }
            default:
                continue  // annotations: title, description, $schema, $id, …
            }
        }
        return errors
    }
}

extension String {
    /// The 32 hex digits of a UUID written any way Python's `uuid.UUID`
    /// accepts (dashes, braces, `urn:uuid:`, any case), or nil.
    var uuidHexDigits: String? {
        asciiUUID(dashes: false) ?? unicodeUUIDHexDigits
    }

    /// `uuidHexDigits` over `Character`s, for any string (the tests hold the
    /// ASCII scan to it).
    var unicodeUUIDHexDigits: String? {
        var t = lowercased()
        for p in ["urn:", "uuid:"] where t.hasPrefix(p) { t.removeFirst(p.count) }
        t.removeAll { $0 == "{" || $0 == "}" || $0 == "-" }
        return t.count == 32 && t.allSatisfy(\.isHexDigit) ? t : nil
    }

    /// Placement's `uuidutils.is_uuid_like` (and the schema format "uuid").
    public var isUUIDLike: Bool { scanASCIIUUID(nil) ?? (unicodeUUIDHexDigits != nil) }

    /// `str(uuid.UUID(s))`: the canonical lower-case, dashed form.
    public var canonicalUUID: String {
        asciiUUID(dashes: true).map { $0 ?? self } ?? unicodeCanonicalUUID
    }

    /// `canonicalUUID` over `Character`s.
    var unicodeCanonicalUUID: String {
        guard let h = unicodeUUIDHexDigits.map(Array.init) else { return self }
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    /// What `uuidHexDigits` does, on the bytes of an ASCII string (its
    /// lower-casing and hex digits are Unicode's, so any other string takes
    /// it): nil for a string that is not ASCII, else whether it is a UUID,
    /// handing each of its 32 digits, lower case, to `digit`. The consumer
    /// uuid of every PUT goes through here twice; the `Character` forms
    /// were 8% of an event loop's CPU under PUT load.
    func scanASCIIUUID(_ digit: ((UInt8) -> Void)?) -> Bool? {
        var bytes = utf8[...]
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
        for prefix in ["urn:", "uuid:"] {
            let p = prefix.utf8
            if bytes.count >= p.count, zip(bytes, p).allSatisfy({ lower($0) == $1 }) { bytes = bytes.dropFirst(p.count) }
        }
        var digits = 0
        for b in bytes {
            let l = lower(b)
            switch l {
            case 0x7B, 0x7D, 0x2D: continue  // { } -
            case 0x30...0x39, 0x61...0x66:
                digits += 1
                if digits > 32 { return false }
                digit?(l)
            default: return false
            }
        }
        return digits == 32
    }
}

extension String {
    /// For an ASCII string, its UUID's digits in the 8-4-4-4-12 dashed form or
    /// without dashes, in one scan: `.some(nil)` when it is not a UUID, nil
    /// when the string is not ASCII (the `Character` forms answer for it).
    fileprivate func asciiUUID(dashes: Bool) -> String?? {
        var valid: Bool?
        let text = String(unsafeUninitializedCapacity: 36) { buf in
            var n = 0
            // At most 32 digits reach here (the scan refuses a 33rd), so 36 bytes hold them.
            valid = scanASCIIUUID { d in
                if dashes && (n == 8 || n == 13 || n == 18 || n == 23) {
                    buf[n] = 0x2D
                    n += 1
                }
                buf[n] = d
                n += 1
            }
            return valid == true ? n : 0
        }
        guard let valid else { return nil }
        return .some(valid ? text : nil)
    }
}
