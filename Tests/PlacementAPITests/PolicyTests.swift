import Foundation
import Testing
@testable import PlacementAPI

/// Placement's default rules, the legacy switch, scope, and operator overrides.
@Suite struct PolicyTests {
    func id(_ roles: [String], project: String? = "p1", system: String? = nil) -> Identity {
        Identity(user: "u", projectID: project, roles: roles, systemScope: system)
    }

    @Test func newDefaults() throws {
        let p = try PolicyEngine()
        #expect(p.allows("placement:resource_providers:list", id(["admin"])))
        #expect(p.allows("placement:resource_providers:list", id(["service"])))
        #expect(!p.allows("placement:resource_providers:list", id(["member", "reader"])))
        // The reshaper is for services only; admin is not enough under the new defaults.
        #expect(!p.allows("placement:reshaper:reshape", id(["admin"])))
        #expect(p.allows("placement:reshaper:reshape", id(["service"])))
        // Project readers see their own project's usages, not another's.
        #expect(p.allows("placement:usages", id(["reader"]), target: ["project_id": "p1"]))
        #expect(!p.allows("placement:usages", id(["reader"]), target: ["project_id": "p2"]))
        #expect(!p.allows("placement:usages", id(["member"]), target: ["project_id": "p1"]))
        // Roles compare without case, as oslo.policy compares them.
        #expect(p.allows("placement:traits:list", id(["Admin"])))
        // Unknown actions are refused.
        #expect(!p.allows("placement:nope", id(["admin"])))
    }

    @Test func systemScopeIsRefusedWhateverTheRoles() throws {
        for config in [PolicyConfig(), PolicyConfig(enforceNewDefaults: false)] {
            let p = try PolicyEngine(config)
            #expect(!p.allows("placement:resource_providers:list", id(["admin", "member", "reader"], project: nil, system: "all")))
            #expect(!p.allows("placement:usages", id(["reader"], project: nil, system: "all"), target: ["project_id": "p1"]))
        }
    }

    @Test func legacyDefaultsLetAdminDoServiceWork() throws {
        let p = try PolicyEngine(PolicyConfig(enforceNewDefaults: false))
        #expect(p.allows("placement:reshaper:reshape", id(["admin"])))
        #expect(p.allows("placement:usages", id(["admin"]), target: ["project_id": "p2"]))
        #expect(!p.allows("placement:reshaper:reshape", id(["member"])))
    }

    @Test func overridesReplaceTheDefault() throws {
        let p = try PolicyEngine(PolicyConfig(overrides: [
            "placement:resource_providers:list": "role:reader or (role:member and not project_id:blocked)",
            "placement:traits:list": "!",
            "admin_or_service_api": "@",
        ]))
        #expect(p.allows("placement:resource_providers:list", id(["reader"])))
        #expect(p.allows("placement:resource_providers:list", id(["member"])))
        #expect(!p.allows("placement:resource_providers:list", id(["member"], project: "blocked")))
        #expect(!p.allows("placement:traits:list", id(["admin"])))
        // Rules built on a base rule follow the override of the base rule.
        #expect(p.allows("placement:allocations:list", id([])))
    }

    @Test func checkStringsParseAsOsloPolicyDoes() throws {
        #expect(throws: PolicyError.self) { try PolicyEngine(PolicyConfig(overrides: ["x": "role:a and (role:b"])) }
        #expect(throws: PolicyError.self) { try PolicyEngine(PolicyConfig(overrides: ["x": "nonsense"])) }
        let p = try PolicyEngine(PolicyConfig(overrides: ["x": "((role:a)) and project_id:%(project_id)s", "y": ""]))
        #expect(p.allows("x", id(["a"])))
        #expect(!p.allows("x", id(["a"]), target: ["project_id": "other"]))
        #expect(p.allows("y", id([])))  // an empty rule allows
    }

    @Test func policyFilesInYAMLOrJSON() throws {
        let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID()).yaml").path
        try """
        # operator rules
        "placement:resource_providers:list": "role:reader"
        placement:traits:list: '!'
        """.write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(try PolicyConfig.loadOverrides(path: yaml) == ["placement:resource_providers:list": "role:reader", "placement:traits:list": "!"])
        let json = yaml + ".json"
        try #"{"placement:usages": "@"}"#.write(toFile: json, atomically: true, encoding: .utf8)
        #expect(try PolicyConfig.loadOverrides(path: json) == ["placement:usages": "@"])
        try "just words".write(toFile: yaml, atomically: true, encoding: .utf8)
        #expect(throws: PolicyError.self) { try PolicyConfig.loadOverrides(path: yaml) }
    }
}
