import Foundation

/// Placement 16.0.0's access rules (placement/policies), evaluated as
/// oslo.policy 6 evaluates them, with the same check-string language so an
/// operator's policy file reads as it would for Placement.
///
/// Every Placement rule is project-scoped: a system- or domain-scoped
/// identity is refused whatever its roles. With `enforceNewDefaults` off
/// (Placement's `[oslo_policy] enforce_new_defaults = False`) a rule that has
/// a deprecated form also passes when that form passes (`role:admin`), as
/// oslo.policy does while the old defaults are still honoured.
public struct PolicyConfig: Sendable {
    public var enforceNewDefaults = true
    /// Rule name -> check string, from a policy file; replaces the default.
    public var overrides: [String: String] = [:]

    public init(enforceNewDefaults: Bool = true, overrides: [String: String] = [:]) {
        self.enforceNewDefaults = enforceNewDefaults
        self.overrides = overrides
    }

    /// Reads a policy file as oslo.policy does: YAML (`"name": "check"` per
    /// line, `#` comments) or JSON.
    public static func loadOverrides(path: String) throws -> [String: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        if let data = text.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) as? [String: String] {
            return json
        }
        var out: [String: String] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmed
            if line.isEmpty || line.hasPrefix("#") || line == "---" { continue }
            guard let (k, v) = splitYAMLPair(line) else {
                throw PolicyError.file(path, "line \(n + 1) is not a \"rule\": \"check\" pair: \(line)")
            }
            out[k] = v
        }
        return out
    }

    static func splitYAMLPair(_ line: String) -> (String, String)? {
        func unquote(_ s: String) -> String {
            let t = s.trimmed
            if t.count >= 2, let f = t.first, f == "\"" || f == "'", t.last == f { return String(t.dropFirst().dropLast()) }
            return t
        }
        // The key may be quoted and contain colons ("placement:resource_providers:list").
        if let q = line.first, q == "\"" || q == "'" {
            guard let close = line.dropFirst().firstIndex(of: q) else { return nil }
            let key = String(line[line.index(after: line.startIndex)..<close])
            let rest = line[line.index(after: close)...].trimmed
            guard rest.hasPrefix(":") else { return nil }
            return (key, unquote(String(rest.dropFirst())))
        }
        guard let sep = line.range(of: ": ") ?? (line.hasSuffix(":") ? line.range(of: ":", options: .backwards) : nil) else { return nil }
        return (String(line[..<sep.lowerBound]).trimmed, unquote(String(line[sep.upperBound...])))
    }
}

public enum PolicyError: Error, CustomStringConvertible {
    case file(String, String)
    case check(String, String)
    public var description: String {
        switch self {
        case .file(let p, let why): "policy file \(p): \(why)"
        case .check(let rule, let why): "policy rule \(rule): \(why)"
        }
    }
}

/// A parsed check string.
indirect enum PolicyCheck: Sendable {
    case always, never
    case role(String)
    case rule(String)
    /// `project_id:%(project_id)s` and the like: a credential against a target value or a literal.
    case match(credential: String, value: String)
    case not(PolicyCheck)
    case and([PolicyCheck])
    case or([PolicyCheck])

    /// Parses oslo.policy's check language: `@`, `!`, `kind:match`,
    /// `not`, `and`, `or` and parentheses (`not` binds tightest, then `and`).
    static func parse(_ text: String) throws -> PolicyCheck {
        // As oslo.policy tokenizes: split on whitespace, then peel leading
        // "(" and trailing ")" off each word (so "%(project_id)s" stays whole).
        var tokens: [String] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            var w = Substring(word)
            while w.first == "(" { tokens.append("("); w = w.dropFirst() }
            var closing = 0
            while w.last == ")" && !w.hasSuffix(")s") { closing += 1; w = w.dropLast() }
            if !w.isEmpty { tokens.append(String(w)) }
            tokens += Array(repeating: ")", count: closing)
        }
        if tokens.isEmpty { return .always }  // an empty rule allows, as in oslo.policy
        var i = 0
        func orExpr() throws -> PolicyCheck {
            var parts = [try andExpr()]
            while i < tokens.count, tokens[i].asciiLowercased == "or" { i += 1; parts.append(try andExpr()) }
            return parts.count == 1 ? parts[0] : .or(parts)
        }
        func andExpr() throws -> PolicyCheck {
            var parts = [try notExpr()]
            while i < tokens.count, tokens[i].asciiLowercased == "and" { i += 1; parts.append(try notExpr()) }
            return parts.count == 1 ? parts[0] : .and(parts)
        }
        func notExpr() throws -> PolicyCheck {
            if i < tokens.count, tokens[i].asciiLowercased == "not" { i += 1; return .not(try notExpr()) }
            return try atom()
        }
        func atom() throws -> PolicyCheck {
            guard i < tokens.count else { throw PolicyError.check(text, "ends early") }
            let t = tokens[i]
            i += 1
            switch t {
            case "(":
                let inner = try orExpr()
                guard i < tokens.count, tokens[i] == ")" else { throw PolicyError.check(text, "missing )") }
                i += 1
                return inner
            case "@": return .always
            case "!": return .never
            default:
                guard let colon = t.firstIndex(of: ":") else { throw PolicyError.check(text, "'\(t)' is not kind:match") }
                let kind = String(t[..<colon]), match = String(t[t.index(after: colon)...])
                switch kind {
                case "role": return .role(match)
                case "rule": return .rule(match)
                default: return .match(credential: kind, value: match)
                }
            }
        }
        let check = try orExpr()
        guard i == tokens.count else { throw PolicyError.check(text, "unexpected '\(tokens[i])'") }
        return check
    }
}

/// The rules in force for one server.
public final class PolicyEngine: Sendable {
    struct Rule: Sendable {
        let check: PolicyCheck
        let projectScoped: Bool
    }
    let rules: [String: Rule]

    /// Placement 16.0.0's defaults: (name, check, deprecated check, project-scoped).
    static let defaults: [(String, String, String?, Bool)] = {
        var d: [(String, String, String?, Bool)] = [
            ("admin_api", "role:admin", nil, true),
            ("service_api", "role:service", "role:admin", true),
            ("admin_or_service_api", "role:admin or role:service", "role:admin", true),
            ("project_reader_api", "role:reader and project_id:%(project_id)s", "role:admin", false),
            ("admin_or_project_reader_or_service_api", "role:admin or rule:project_reader_api or role:service", "role:admin", true),
            ("placement:reshaper:reshape", "rule:service_api", nil, true),
            ("placement:usages", "rule:admin_or_project_reader_or_service_api", nil, true),
        ]
        let adminOrService = [
            "placement:allocation_candidates:list",
            "placement:allocations:manage", "placement:allocations:list", "placement:allocations:update", "placement:allocations:delete",
            "placement:resource_providers:allocations:list",
            "placement:resource_providers:inventories:list", "placement:resource_providers:inventories:create",
            "placement:resource_providers:inventories:show", "placement:resource_providers:inventories:update",
            "placement:resource_providers:inventories:delete",
            "placement:resource_classes:list", "placement:resource_classes:create", "placement:resource_classes:show",
            "placement:resource_classes:update", "placement:resource_classes:delete",
            "placement:resource_providers:list", "placement:resource_providers:create", "placement:resource_providers:show",
            "placement:resource_providers:update", "placement:resource_providers:delete",
            "placement:resource_providers:aggregates:list", "placement:resource_providers:aggregates:update",
            "placement:traits:list", "placement:traits:show", "placement:traits:update", "placement:traits:delete",
            "placement:resource_providers:traits:list", "placement:resource_providers:traits:update",
            "placement:resource_providers:traits:delete",
            "placement:resource_providers:usages",
            // The ledger's own audit API reads like Placement's admin reads.
            "placement:ledger:events",
        ]
        d += adminOrService.map { ($0, "rule:admin_or_service_api", nil, true) }
        return d
    }()

    public init(_ config: PolicyConfig = PolicyConfig()) throws {
        var rules: [String: Rule] = [:]
        for (name, check, deprecated, scoped) in Self.defaults {
            var c = try PolicyCheck.parse(check)
            if !config.enforceNewDefaults, let deprecated { c = .or([c, try PolicyCheck.parse(deprecated)]) }
            rules[name] = Rule(check: c, projectScoped: scoped)
        }
        for (name, check) in config.overrides {
            // An operator's rule replaces the default outright; the scope stays the rule's own.
            rules[name] = Rule(check: try PolicyCheck.parse(check), projectScoped: rules[name]?.projectScoped ?? false)
        }
        self.rules = rules
    }

    /// The default rules as a policy file (what `oslopolicy-sample-generator` prints for Placement).
    public static func sampleFile(legacy: Bool = false) -> String {
        var out = "# placement-ledger's default policy (Placement 16.0.0's rules). Every rule is\n"
        out += "# project-scoped except project_reader_api. Uncomment and edit a rule to override it.\n"
        for (name, check, deprecated, _) in defaults {
            let shown = legacy && deprecated != nil ? "(\(check)) or \(deprecated!)" : check
            out += "#\"\(name)\": \"\(shown)\"\n"
        }
        return out
    }

    /// Whether `identity` may do `action` on `target` (Placement's default
    /// target is the caller's own project and user).
    func allows(_ action: String, _ identity: Identity, target: [String: String]? = nil) -> Bool {
        guard let rule = rules[action] else { return false }
        if rule.projectScoped && identity.scope != .project { return false }
        var seen: [String] = []
        return evaluate(rule.check, identity, target, &seen)
    }

    /// A target attribute: from `target` when the caller gave one, else from
    /// the default target, built here only when a rule asks (most rules
    /// never do, and every request is authorized).
    private static func attribute(_ name: String, of target: [String: String]?, _ id: Identity) -> String? {
        if let target { return target[name] }
        switch name {
        case "project_id": return id.projectID ?? ""
        case "user_id": return id.user
        default: return nil
        }
    }

    /// `seen`: the rules being evaluated further up, so a rule that names
    /// itself is refused instead of recursing (a few at most: a list).
    private func evaluate(_ c: PolicyCheck, _ id: Identity, _ target: [String: String]?, _ seen: inout [String]) -> Bool {
        switch c {
        case .always: return true
        case .never: return false
        case .role(let r): return id.roles.contains { $0.equalsIgnoringASCIICase(r) }
        case .rule(let name):
            guard let rule = rules[name], !seen.contains(name) else { return false }
            seen.append(name)
            defer { seen.removeLast() }
            return evaluate(rule.check, id, target, &seen)
        case .match(let credential, let value):
            let wanted: String?
            if value.hasPrefix("%("), value.hasSuffix(")s") {
                wanted = Self.attribute(String(value.dropFirst(2).dropLast(2)), of: target, id)
            } else {
                wanted = value.trimmingQuotes
            }
            guard let wanted, let have = id.credential(credential) else { return false }
            return have == wanted
        case .not(let inner): return !evaluate(inner, id, target, &seen)
        case .and(let parts): return parts.allSatisfy { evaluate($0, id, target, &seen) }
        case .or(let parts): return parts.contains { evaluate($0, id, target, &seen) }
        }
    }
}

extension String {
    fileprivate var trimmingQuotes: String {
        if count >= 2, let f = first, f == "'" || f == "\"", last == f { return String(dropFirst().dropLast()) }
        return self
    }
}
