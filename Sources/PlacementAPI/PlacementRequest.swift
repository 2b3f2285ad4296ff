import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import PlacementJSON

/// Who is asking: user, project, roles and scope, as oslo.context reads
/// them from the identity headers.
public struct Identity: Sendable {
    public enum Scope: Sendable { case project, system, domain }
    public var user: String
    /// nil for a system- or domain-scoped caller without a project.
    public var projectID: String?
    public var roles: [String]
    public var systemScope: String?
    public var domainID: String?

    public init(user: String, projectID: String?, roles: [String], systemScope: String? = nil, domainID: String? = nil) {
        self.user = user
        self.projectID = projectID
        self.roles = roles
        self.systemScope = systemScope.flatMap { $0.isEmpty ? nil : $0 }
        self.domainID = domainID.flatMap { $0.isEmpty ? nil : $0 }
    }

    var scope: Scope { systemScope != nil ? .system : domainID != nil ? .domain : .project }
    /// The project recorded as the actor of an event.
    public var project: String { projectID ?? "" }

    /// A credential a policy check can name.
    func credential(_ name: String) -> String? {
        switch name {
        case "project_id", "tenant": projectID
        case "user_id", "user": user
        case "system_scope": systemScope
        case "domain_id": domainID
        default: nil
        }
    }
}

/// Everything a handler needs from one request, already negotiated.
struct PlacementRequest: Sendable {
    let method: String
    let path: String
    /// Values of the `{name}` segments of the matched route.
    var params: [String: String] = [:]
    /// Query parameters in order (a key may repeat).
    let query: [(String, String)]
    let headers: HTTPFields
    let body: [UInt8]
    let version: Microversion
    let requestID: String
    let identity: Identity
    let policy: PolicyEngine
    /// `scheme://host` for Location headers.
    let base: String
    /// From `X-Ledger-As-Of`: answer as of this event.
    var asOf: UInt64?

    func param(_ name: String) -> String { params[name] ?? "" }

    /// The last value of a query parameter, as `dict(req.GET)` gives it.
    func queryValue(_ name: String) -> String? { query.last { $0.0 == name }?.1 }
    func queryValues(_ name: String) -> [String] { query.filter { $0.0 == name }.map(\.1) }

    var eventContext: EventContext {
        EventContext(requestID: requestID, actor: Actor(user: identity.user, project: identity.project),
                     microversion: version.description)
    }

    /// The media type of the body, without parameters.
    var contentType: String? {
        headers.value(.contentType).map { ($0.split(separator: ";").first ?? "").trimmed.asciiLowercased }
    }

    /// Placement's `require_content('application/json')`.
    func requireJSON() throws {
        let ct = headers.value(.contentType).map { ($0.split(separator: ";").first ?? "").trimmed }
        if ct?.asciiLowercased != "application/json" {
            let shown = (ct?.isEmpty ?? true) ? "None" : ct!
            throw PlacementError(415, "The media type \(shown) is not supported, use application/json")
        }
    }

    /// Placement's `check_accept('application/json')`.
    func checkAccept() throws {
        guard let accept = headers.value(.accept), !accept.isEmpty, accept != "*/*", accept != "application/json" else { return }
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map(\.trimmed)
            let type = parts.first?.asciiLowercased ?? ""
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 1 }
            if q > 0, type == "application/json" || type == "application/*" || type == "*/*" { return }
        }
        throw PlacementError(406, "Only application/json is provided")
    }

    /// Parses the body and checks it against a schema; Placement's 400 words on failure.
    func json(_ schema: Schema) throws -> JSON {
        let value: JSON
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw PlacementError(400, "Malformed JSON: \(error.message)")
        }
        if let violation = schema.validate(value) {
            throw PlacementError(400, "JSON does not validate: \(violation)")
        }
        return value
    }

    /// Checks the query string against a schema (`validate_query_params`).
    func validateQuery(_ schema: Schema) throws {
        var o = JSONObject()
        for (k, v) in query { o[k] = .string(v) }
        if let violation = schema.validate(.object(o)) {
            throw PlacementError(400, "Invalid query string parameters: \(violation)")
        }
    }
}

/// What a handler answers.
struct PlacementResponse: Sendable {
    var status: Int = 200
    var body: JSON?
    var headers: [(String, String)] = []
    /// From 1.15: `last-modified` (and `cache-control: no-cache`).
    var lastModified: Micros?
    /// The last event this answer reflects.
    var sequence: UInt64
    /// From 1.15 a GET answers `cache-control: no-cache` (with `last-modified` when known).
    var cacheHeaders = false
    /// A body that is not JSON: bytes and content type (the usage plot).
    var raw: ([UInt8], String)?
    /// A body written as it is produced (the live event feed).
    var stream: ResponseBody?

    static func json(_ body: JSON, sequence: UInt64, status: Int = 200, lastModified: Micros? = nil) -> PlacementResponse {
        PlacementResponse(status: status, body: body, lastModified: lastModified, sequence: sequence, cacheHeaders: true)
    }
    /// A JSON answer already written (as `JSONWriter` writes it).
    static func json(bytes: [UInt8], sequence: UInt64, lastModified: Micros? = nil) -> PlacementResponse {
        PlacementResponse(body: nil, lastModified: lastModified, sequence: sequence, cacheHeaders: true, raw: (bytes, "application/json"))
    }
    static func empty(_ status: Int, sequence: UInt64) -> PlacementResponse {
        PlacementResponse(status: status, body: nil, sequence: sequence)
    }
}
