import Foundation

/// A schema compiled once into typed checks, answering only "valid or
/// not", without allocating on the way: no paths, no messages, no copies of
/// objects' pairs. `Schema.validate` asks it first and runs the checker that
/// words Placement's errors (Schema.check) only for a body it refuses.
///
/// Why two: profiling a PUT found its schema check making about 5,700
/// allocations (path arrays per node, pair copies, closures), the largest
/// share of a write's CPU in the request handler; nearly every request is
/// valid. The two must agree on every instance: each check here mirrors one
/// keyword in `Schema.check`, and SchemaTests compare them on thousands of
/// mutated bodies for every request schema.
final class CompiledSchema: Sendable {
    private enum Matcher: Sendable {
        case simple(SimplePattern)
        case regex(NSRegularExpressionBox)
        case never  // a pattern the engine cannot compile matches nothing, as Schema.search

        func matches(_ s: String) -> Bool {
            switch self {
            case .simple(let p): p.matches(s)
            case .regex(let r): r.regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
            case .never: false
            }
        }

        init(_ pattern: String) {
            if let p = SimplePattern(pattern) {
                self = .simple(p)
            } else if let r = try? NSRegularExpression(pattern: pattern) {
                self = .regex(NSRegularExpressionBox(regex: r))
            } else {
                self = .never
            }
        }
    }

    private enum Check: Sendable {
        case type([String])
        case properties([(String, CompiledSchema)])
        case patternProperties([(Matcher, CompiledSchema)])
        /// `sub` for a schema, `forbid` for false; `true` and other values check nothing.
        case additionalProperties(names: Set<String>, patterns: [Matcher], sub: CompiledSchema?, forbid: Bool)
        case required([String])
        case minProperties(Int64), maxProperties(Int64)
        case minimum(JSON), maximum(JSON)
        case minLength(Int64), maxLength(Int64)
        case pattern(Matcher)
        case uuid
        case oneOfValues([JSON])
        case const(JSON)
        case items(CompiledSchema)
        case minItems(Int64), maxItems(Int64)
        case uniqueItems
        case anyOf([CompiledSchema]), oneOf([CompiledSchema]), allOf([CompiledSchema])
        case not(CompiledSchema)
    }

    private let rejectsAll: Bool
    private let checks: [Check]

    init(_ schema: JSON) {
        guard case .object(let s) = schema else {
            rejectsAll = schema == .bool(false)
            checks = []
            return
        }
        rejectsAll = false
        var checks: [Check] = []
        for (keyword, kv) in s.pairs {
            switch keyword {
            case "type":
                checks.append(.type(kv.arrayValue?.compactMap(\.stringValue) ?? [kv.stringValue ?? ""]))
            case "properties":
                if case .object(let props) = kv { checks.append(.properties(props.pairs.map { ($0.key, CompiledSchema($0.value)) })) }
            case "patternProperties":
                if case .object(let pats) = kv { checks.append(.patternProperties(pats.pairs.map { (Matcher($0.key), CompiledSchema($0.value)) })) }
            case "additionalProperties":
                let names = Set(s["properties"]?.objectValue?.keys ?? [])
                let patterns = (s["patternProperties"]?.objectValue?.keys ?? []).map(Matcher.init)
                if case .object = kv {
                    checks.append(.additionalProperties(names: names, patterns: patterns, sub: CompiledSchema(kv), forbid: false))
                } else if kv == .bool(false) {
                    checks.append(.additionalProperties(names: names, patterns: patterns, sub: nil, forbid: true))
                }
            case "required": checks.append(.required(kv.arrayValue?.compactMap(\.stringValue) ?? []))
            case "minProperties": if let n = kv.intValue { checks.append(.minProperties(n)) }
            case "maxProperties": if let n = kv.intValue { checks.append(.maxProperties(n)) }
            case "minimum": checks.append(.minimum(kv))
            case "maximum": checks.append(.maximum(kv))
            case "minLength": if let n = kv.intValue { checks.append(.minLength(n)) }
            case "maxLength": if let n = kv.intValue { checks.append(.maxLength(n)) }
            case "pattern": if let p = kv.stringValue { checks.append(.pattern(Matcher(p))) }
            case "format": if kv.stringValue == "uuid" { checks.append(.uuid) }
            case "enum": if let options = kv.arrayValue { checks.append(.oneOfValues(options)) }
            case "const": checks.append(.const(kv))
            case "items": checks.append(.items(CompiledSchema(kv)))
            case "minItems": if let n = kv.intValue { checks.append(.minItems(n)) }
            case "maxItems": if let n = kv.intValue { checks.append(.maxItems(n)) }
            case "uniqueItems": if kv == .bool(true) { checks.append(.uniqueItems) }
            case "anyOf": checks.append(.anyOf((kv.arrayValue ?? []).map(CompiledSchema.init)))
            case "oneOf": checks.append(.oneOf((kv.arrayValue ?? []).map(CompiledSchema.init)))
            case "allOf": checks.append(.allOf((kv.arrayValue ?? []).map(CompiledSchema.init)))
            case "not": checks.append(.not(CompiledSchema(kv)))
            default: continue
            }
        }
        self.checks = checks
    }

    /// Whether `v` is valid: exactly when `Schema.check` finds no error.
    func accepts(_ v: JSON) -> Bool {
        if rejectsAll { return false }
        for check in checks where !passes(check, v) { return false }
        return true
    }

    private func passes(_ check: Check, _ v: JSON) -> Bool {
        switch check {
        case .type(let types):
            return types.contains { Schema.typeMatches(v, $0) }
        case .properties(let props):
            guard case .object(let o) = v else { return true }
            for (name, sub) in props { if let value = o[name], !sub.accepts(value) { return false } }
            return true
        case .patternProperties(let pats):
            guard case .object(let o) = v else { return true }
            for (matcher, sub) in pats {
                for name in o.keys where matcher.matches(name) { if !sub.accepts(o[name]!) { return false } }
            }
            return true
        case .additionalProperties(let names, let patterns, let sub, let forbid):
            guard case .object(let o) = v else { return true }
            for name in o.keys where !names.contains(name) && !patterns.contains(where: { $0.matches(name) }) {
                if forbid { return false }
                if let sub, !sub.accepts(o[name]!) { return false }
            }
            return true
        case .required(let names):
            guard case .object(let o) = v else { return true }
            return names.allSatisfy { o[$0] != nil }
        case .minProperties(let n):
            guard case .object(let o) = v else { return true }
            return o.count >= n
        case .maxProperties(let n):
            guard case .object(let o) = v else { return true }
            return o.count <= n
        case .minimum(let bound):
            return Self.compare(v, bound).map { $0 >= 0 } ?? true
        case .maximum(let bound):
            return Self.compare(v, bound).map { $0 <= 0 } ?? true
        case .minLength(let n):
            guard case .string(let s) = v else { return true }
            return s.unicodeScalars.count >= n
        case .maxLength(let n):
            guard case .string(let s) = v else { return true }
            return s.unicodeScalars.count <= n
        case .pattern(let matcher):
            guard case .string(let s) = v else { return true }
            return matcher.matches(s)
        case .uuid:
            guard case .string(let s) = v else { return true }
            return s.isUUIDLike
        case .oneOfValues(let options):
            return options.contains(v)
        case .const(let value):
            return v == value
        case .items(let sub):
            guard case .array(let items) = v else { return true }
            return items.allSatisfy(sub.accepts)
        case .minItems(let n):
            guard case .array(let a) = v else { return true }
            return a.count >= n
        case .maxItems(let n):
            guard case .array(let a) = v else { return true }
            return a.count <= n
        case .uniqueItems:
            guard case .array(let a) = v else { return true }
            for i in a.indices { for j in a.indices where j < i && a[j] == a[i] { return false } }
            return true
        case .anyOf(let branches):
            return branches.contains { $0.accepts(v) }
        case .oneOf(let branches):
            var passed = 0
            for b in branches where b.accepts(v) { passed += 1 }
            return passed == 1
        case .allOf(let branches):
            return branches.allSatisfy { $0.accepts(v) }
        case .not(let sub):
            return !sub.accepts(v)
        }
    }

    /// `Schema.compare` (nil: not comparable, so the bound passes), without
    /// its digit strings when both are 64-bit integers.
    private static func compare(_ v: JSON, _ bound: JSON) -> Int? {
        if case .int(let a) = v, case .int(let b) = bound { return a < b ? -1 : (a == b ? 0 : 1) }
        guard v.numericValue != nil else { return nil }
        return Schema.compare(v, bound)
    }
}

/// NSRegularExpression is immutable once made and safe to match from any thread.
private struct NSRegularExpressionBox: @unchecked Sendable {
    let regex: NSRegularExpression
}
