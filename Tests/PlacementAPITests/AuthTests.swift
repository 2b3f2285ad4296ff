import Foundation
import HTTPTypes
import Testing
@testable import PlacementAPI

/// How callers are identified and what they may do, over HTTP.
@Suite struct AuthTests {
    @Test func noauth2IsOnlyTheDefaultOnLoopback() throws {
        #expect(try AuthStrategy.resolve(nil, host: "127.0.0.1") == .noauth2)
        #expect(try AuthStrategy.resolve(nil, host: "localhost") == .noauth2)
        #expect(throws: AuthStrategy.Refusal.self) { try AuthStrategy.resolve(nil, host: "0.0.0.0") }
        #expect(throws: AuthStrategy.Refusal.self) { try AuthStrategy.resolve(nil, host: "10.1.2.3") }
        #expect(try AuthStrategy.resolve("noauth2", host: "0.0.0.0") == .noauth2)
        #expect(try AuthStrategy.resolve("keystone-headers", host: "0.0.0.0") == .keystoneHeaders)
        #expect(throws: AuthStrategy.Refusal.self) { try AuthStrategy.resolve("keystone", host: "127.0.0.1") }
    }

    @Test func keystoneHeadersAreTrustedOnlyWhenConfirmed() async throws {
        let server = try TestServer(auth: .keystoneHeaders)
        try await server.run { c in
            let admin = ["X-Identity-Status": "Confirmed", "X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "admin,member,reader"]
            #expect(try await c.call(.get, "/resource_providers", token: nil, headers: admin).status == .ok)
            var invalid = admin
            invalid["X-Identity-Status"] = "Invalid"
            #expect(try await c.call(.get, "/resource_providers", token: nil, headers: invalid).status == .unauthorized)
            // A noauth2 token means nothing in this mode.
            #expect(try await c.call(.get, "/resource_providers", token: "admin").status == .unauthorized)
            #expect(try await c.call(.get, "/", token: nil).status == .ok)
            // The actor of an event is the identity from the headers.
            let r = try await c.call(.post, "/resource_providers", json: #"{"name": "rp1"}"#, token: nil, headers: admin)
            #expect(r.status == .ok)
            let events = try await c.call(.get, "/ledger/events", token: nil, headers: admin)
            #expect(events.text.contains(#""user":"u1""#) || events.text.contains(#""user": "u1""#))
            // A project reader reads its own project's usages and nothing else.
            let reader = ["X-Identity-Status": "Confirmed", "X-User-Id": "u2", "X-Project-Id": "p1", "X-Roles": "reader"]
            #expect(try await c.call(.get, "/usages?project_id=p1", token: nil, headers: reader).status == .ok)
            #expect(try await c.call(.get, "/usages?project_id=p2", token: nil, headers: reader).status == .forbidden)
            #expect(try await c.call(.get, "/resource_providers", token: nil, headers: reader).status == .forbidden)
            // System scope is refused: every Placement rule is project-scoped.
            let system = ["X-Identity-Status": "Confirmed", "X-User-Id": "u3", "X-Roles": "admin", "OpenStack-System-Scope": "all"]
            let denied = try await c.call(.get, "/resource_providers", token: nil, headers: system)
            #expect(denied.status == .forbidden)
            #expect(denied.text.contains("Policy does not allow placement:resource_providers:list to be performed."))
        }
    }

    @Test func aDeniedWriteWritesNothing() async throws {
        let server = try TestServer()
        try await server.run { c in
            let before = try await c.call(.get, "/resource_providers").sequence
            let r = try await c.call(.post, "/resource_providers", json: #"{"name": "x"}"#, token: "bob", headers: ["X-Roles": "member"])
            #expect(r.status == .forbidden)
            #expect(try await c.call(.get, "/resource_providers").sequence == before)
        }
    }

    @Test func policyFileOverridesReachTheHandlers() async throws {
        let server = try TestServer(policy: PolicyConfig(overrides: ["placement:resource_providers:list": "role:reader"]))
        try await server.run { c in
            let reader = try await c.call(.get, "/resource_providers", token: "bob", headers: ["X-Roles": "reader"])
            let admin = try await c.call(.get, "/resource_providers", token: "admin")
            #expect(reader.status == .ok)
            #expect(admin.status == .forbidden)
        }
    }

    @Test func corsPreflightNeedsNoTokenAndGrantsOnlyAllowedOrigins() async throws {
        let server = try TestServer(cors: CORSConfig(allowedOrigins: ["http://ok.example"], allowHeaders: ["openstack-api-version"]))
        try await server.run { c in
            let ok = try await c.call(.options, "/resource_providers", token: nil, headers: [
                "Origin": "http://ok.example", "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "openstack-api-version"])
            #expect(ok.status == .ok)
            #expect(ok.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "http://ok.example")
            #expect(ok.headers[HTTPField.Name("Access-Control-Allow-Headers")!] == "openstack-api-version")
            let other = try await c.call(.options, "/resource_providers", token: nil, headers: [
                "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"])
            #expect(other.status == .ok)
            #expect(other.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == nil)
            let get = try await c.call(.get, "/resource_providers", headers: ["Origin": "http://ok.example"])
            #expect(get.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "http://ok.example")
        }
    }
}

/// Values LMDB keys cannot hold as they are: an empty provider name, long names and ids.
@Suite struct OddKeyTests {
    @Test func emptyAndLongNamesAndIds() async throws {
        let server = try TestServer()
        try await server.run { c in
            let empty = try await c.call(.post, "/resource_providers", json: #"{"name": ""}"#)
            #expect(empty.status == .ok)
            let found = try await c.call(.get, "/resource_providers?name=")
            #expect(found.text.contains(#""name": """#))
            #expect(try await c.call(.post, "/resource_providers", json: #"{"name": ""}"#).status == .conflict)
            let long = String(repeating: "\u{263a}", count: 200)  // 600 bytes of UTF-8
            let r = try await c.call(.post, "/resource_providers", json: #"{"name": "\#(long)", "uuid": "c0ffee00-0000-4000-8000-00000000000a"}"#)
            #expect(r.status == .ok)
            #expect(try await c.call(.get, "/resource_providers?name=" + long.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!).text.contains("c0ffee00"))
            try await c.call(.put, "/resource_providers/c0ffee00-0000-4000-8000-00000000000a/inventories",
                             json: #"{"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8}}}"#)
            let project = String(repeating: "p", count: 255), user = String(repeating: "\u{e9}", count: 255)
            let put = try await c.call(.put, "/allocations/c0ffee00-0000-4000-8000-00000000000b", json: """
                {"allocations": {"c0ffee00-0000-4000-8000-00000000000a": {"resources": {"VCPU": 2}}},
                 "project_id": "\(project)", "user_id": "\(user)", "consumer_generation": null, "consumer_type": "\(String(repeating: "T", count: 255))"}
                """)
            #expect(put.status == .noContent)
            let usages = try await c.call(.get, "/usages?project_id=\(project)&user_id=" + user.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            #expect(usages.status == .ok)
            #expect(usages.text.contains(#""VCPU": 2"#))
        }
    }
}
