import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Ledger
import LedgerAudit
import Logging
import NIOCore
import PlacementJSON

/// How the server learns who is asking.
public enum AuthStrategy: String, Sendable, CaseIterable {
    /// Placement's `auth_strategy = noauth2`: the token names the user.
    case noauth2
    /// Behind keystonemiddleware (or any front proxy that validates tokens
    /// and sets its identity headers).
    case keystoneHeaders = "keystone-headers"

    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// The strategy a server runs with. noauth2 trusts whatever token a
    /// caller sends, so it is only a default where nobody else can connect.
    public static func resolve(_ given: String?, host: String) throws -> AuthStrategy {
        if let given {
            guard let s = AuthStrategy(rawValue: given) else {
                throw Refusal(description: "--auth-strategy must be one of \(allCases.map(\.rawValue).joined(separator: ", ")), not '\(given)'")
            }
            return s
        }
        let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
        guard loopback else {
            throw Refusal(description: """
                refusing to serve on \(host) without --auth-strategy: noauth2 lets any caller claim to be admin, \
                so it is the default only on a loopback address. Put the server behind keystonemiddleware and pass \
                --auth-strategy keystone-headers, or pass --auth-strategy noauth2 to accept that risk.
                """)
        }
        return .noauth2
    }
}

/// Limits on what a request may send.
public struct RequestLimits: Sendable {
    /// Bodies larger than this get 413 before they are read in full.
    public var maxBodyBytes: Int = 1 << 20
    public init(maxBodyBytes: Int = 1 << 20) { self.maxBodyBytes = maxBodyBytes }
}

/// The HTTP front: request id, noauth2 identity, microversion negotiation,
/// routing with Placement's 404/405, Placement's error bodies and the
/// headers every response carries.
public struct PlacementResponder: HTTPResponder {
    public typealias Context = BasicRequestContext
    let api: PlacementAPI
    let limits: RequestLimits
    let auth: AuthStrategy
    let policy: PolicyEngine
    let cors: CORSConfig?

    public init(api: PlacementAPI, limits: RequestLimits = RequestLimits(), auth: AuthStrategy = .noauth2,
                policy: PolicyEngine, cors: CORSConfig? = nil) {
        self.api = api
        self.limits = limits
        self.auth = auth
        self.policy = policy
        self.cors = cors
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let response = await placementAnswer(to: request, logger: context.logger).response
        guard let cors else { return response }
        return cors.apply(method: request.method.rawValue, request: request.headers, to: response)
    }

    /// What is known of a request before its body: who asks, at which
    /// microversion, for which path.
    private struct Prelude {
        let requestID: String
        let method: String
        let head: HTTPRequest
        let uri: URI
        var version: Microversion?
        var identity: Identity?
        var vary = true
    }

    /// The checks Placement makes before it reads a body: content length
    /// and type, identity, microversion.
    private func prelude(_ p: inout Prelude) throws {
        let headers = p.head.headerFields
        if let cl = headers.value(.contentLength) {
            guard let n = Int(cl.trimmed) else {
                throw PlacementError(400, "content-length header must be an integer")
            }
            if n > limits.maxBodyBytes { throw PlacementError(413, "Request body is larger than \(limits.maxBodyBytes) bytes.") }
            if n > 0, (headers.value(.contentType) ?? "").isEmpty {
                throw PlacementError(400, "content-type header required when content-length > 0")
            }
        }
        p.identity = try authenticate(headers, isRoot: p.uri.path == "/" || p.uri.path.isEmpty)
        p.version = try Microversion.negotiate(headers[values: HTTPField.Name("OpenStack-API-Version")!])
    }

    /// The request as the handlers see it, and the handler that answers it
    /// (Placement's 404 and 405 when none does).
    private func route(_ p: inout Prelude, body: [UInt8]) throws -> (PlacementRequest, Endpoint) {
        let path = p.uri.path
        let segments = Route.segments(of: path)
        var req = PlacementRequest(
            method: p.method, path: path, query: parseQuery(p.uri.query), headers: p.head.headerFields,
            body: body, version: p.version!, requestID: p.requestID,
            identity: p.identity ?? Identity(user: "", projectID: nil, roles: []), policy: policy,
            base: "http://\(p.head.authority ?? "localhost")")
        if path == "/" || path.isEmpty {
            guard p.method == "GET" else {
                throw PlacementError(405, "The method specified is not allowed for this resource.", headers: [("allow", "GET")])
            }
            return (req, .sync(PlacementAPI.root))
        }
        guard let (route, params) = PlacementAPI.routeTable.match(segments) else {
            p.vary = false
            throw PlacementError(404, "")
        }
        guard let endpoint = route.methods.first(where: { $0.method == p.method })?.endpoint else {
            throw PlacementError(405, "The method specified is not allowed for this resource.",
                                 headers: [("allow", route.methods.map(\.method).joined(separator: ", "))])
        }
        req.params = params
        if let asOf = p.head.headerFields.value(Header.asOf) {
            req.asOf = try api.resolveAsOf(asOf, method: p.method)
        }
        return (req, endpoint)
    }

    private func placementAnswer(to request: Request, logger: Logger) async -> Answer {
        await answer(request.head, uri: request.uri, logger: logger) {
            var request = request
            do {
                return Array(buffer: try await request.collectBody(upTo: limits.maxBodyBytes))
            } catch {
                throw PlacementError(413, "Request body is larger than \(limits.maxBodyBytes) bytes.")
            }
        }
    }

    /// The answer to any request: the prelude's checks, then the body, then the handler.
    private func answer(_ head: HTTPRequest, uri: URI, logger: Logger, body: () async throws -> [UInt8]) async -> Answer {
        var p = Prelude(requestID: RequestID.make(), method: head.method.rawValue, head: head, uri: uri)
        do {
            try prelude(&p)
            let (req, endpoint) = try route(&p, body: try await body())
            switch endpoint {
            case .sync(let handler): return finish(try handler(api, req), req: req, vary: true)
            case .async(let handler): return finish(try await handler(api, req), req: req, vary: true)
            }
        } catch {
            return failure(error, p, logger: logger)
        }
    }

    /// The answer to a write whose body the channel handler has read in
    /// full (InlineReads.swift), computed in a task that runs on the
    /// channel's event loop.
    func inlineWriteAnswer(to head: HTTPRequest, body: ByteBuffer, logger: Logger) async -> Answer {
        await answer(head, uri: URI(head.path ?? ""), logger: logger) { Array(buffer: body) }
    }

    /// Whether `inlineWriteAnswer` may take `head`: a PUT, POST or DELETE
    /// whose body, if any, has a length within the limit (a chunked body, an
    /// `Expect` or a body refused as too large take Hummingbird's path), and
    /// no CORS to add.
    func mayWriteInline(_ head: HTTPRequest) -> Bool {
        guard cors == nil, head.method == .put || head.method == .post || head.method == .delete,
              head.headerFields.value(.transferEncoding) == nil, head.headerFields.value(.expect) == nil else { return false }
        guard let cl = head.headerFields.value(.contentLength) else { return true }
        guard let n = Int(cl.trimmed) else { return false }
        return n >= 0 && n <= limits.maxBodyBytes
    }

    /// The answer to a GET computed where it arrived (the channel's event
    /// loop, InlineReads.swift), or nil when the request needs the async
    /// path: a body, a handler that writes, or CORS headers to add.
    func inlineAnswer(to head: HTTPRequest, logger: Logger) -> Answer? {
        guard mayAnswerInline(head) else { return nil }
        var p = Prelude(requestID: RequestID.make(), method: "GET", head: head, uri: URI(head.path ?? ""))
        do {
            try prelude(&p)
            let (req, endpoint) = try route(&p, body: [])
            guard case .sync(let handler) = endpoint else { return nil }
            return finish(try handler(api, req), req: req, vary: true)
        } catch {
            return failure(error, p, logger: logger)
        }
    }

    /// Whether `inlineAnswer` may take `head`: a GET with no body and no
    /// CORS to add.
    func mayAnswerInline(_ head: HTTPRequest) -> Bool {
        cors == nil && head.method == .get && head.headerFields.value(.transferEncoding) == nil
            && (head.headerFields.value(.contentLength).map { $0.trimmed == "0" } ?? true)
    }

    /// A refusal in Placement's words, or a fault of ours (logged: the operator must see it).
    private func failure(_ error: any Error, _ p: Prelude, logger: Logger) -> Answer {
        let headers = p.head.headerFields
        let e: PlacementError
        switch error {
        case let error as PlacementError: e = error
        case is AuthFailure: return unauthorized(p.requestID)
        default: e = PlacementError(500, "\(error)")
        }
        if e.status >= 500 {
            logger.error("\(e.status) on \(p.method) \(p.uri.path) (\(p.requestID)): \(error is PlacementError ? e.detail : String(reflecting: error))")
        }
        return render(e, requestID: p.requestID, method: p.method, version: p.version, vary: p.vary,
                      contentType: headers.value(.contentType), accept: headers.value(.accept))
    }

    private struct AuthFailure: Error {}

    /// Who is asking. noauth2 (Placement's test and single-machine mode):
    /// `X-Auth-Token: user[:project]`, roles from `X-Roles` (or admin for the
    /// user named admin). keystone-headers: the headers keystonemiddleware
    /// sets in front of Placement, trusted only with
    /// `X-Identity-Status: Confirmed`. Either way `X-Project-Id` and
    /// `OpenStack-System-Scope` are read as oslo.context reads them. Only `/`
    /// is open without an identity.
    private func authenticate(_ headers: HTTPFields, isRoot: Bool) throws -> Identity? {
        let systemScope = headers.value(Header.systemScope)
        let roles: [String]?
        let user: String
        var project: String?
        switch auth {
        case .noauth2:
            guard let token = headers.value(Header.authToken) else {
                if isRoot { return nil }
                throw AuthFailure()
            }
            let parts = token.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = String(parts[0])
            let tokenProject = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : user
            if systemScope?.isEmpty ?? true { project = tokenProject }
            roles = headers.value(Header.roles).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed) }
                ?? (user == "admin" ? ["admin"] : [])
        case .keystoneHeaders:
            guard headers.value(Header.identityStatus) == "Confirmed", let u = headers.value(Header.userID) ?? headers.value(Header.user) else {
                if isRoot { return nil }
                throw AuthFailure()
            }
            user = u
            roles = headers.value(Header.roles).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed) }
        }
        project = headers.value(Header.projectID) ?? headers.value(Header.tenantID) ?? project
        return Identity(user: user, projectID: project, roles: (roles ?? []).filter { !$0.isEmpty },
                        systemScope: systemScope, domainID: headers.value(Header.domainID))
    }

    private func parseQuery(_ query: String?) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                s.percentDecoded(plusAsSpace: true)
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    private func finish(_ r: PlacementResponse, req: PlacementRequest, vary: Bool) -> Answer {
        var headers = HTTPFields()
        headers.reserveCapacity(8)
        headers.append(HTTPField(name: Header.requestID, value: req.requestID))
        headers.append(HTTPField(name: Header.apiVersion, value: "placement \(req.version)"))
        if vary { headers.append(HTTPField(name: .vary, value: "openstack-api-version")) }
        headers.append(HTTPField(name: Header.ledgerSequence, value: String(r.sequence)))
        for (k, v) in r.headers { headers[HTTPField.Name(k)!] = v }
        if req.version.atLeast(15), r.cacheHeaders {
            if let lm = r.lastModified { headers[.lastModified] = httpDate(lm) }
            headers[.cacheControl] = "no-cache"
        }
        if let stream = r.stream {
            return Answer(status: r.status, headers: headers, body: ByteBuffer(), stream: stream)
        }
        var body = ByteBuffer()
        if let json = r.body {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: JSONWriter.bytes(json))
        } else if let (bytes, type) = r.raw {
            headers[.contentType] = type
            body = ByteBuffer(bytes: bytes)
        }
        return Answer(status: r.status, headers: headers, body: body)
    }

    private func render(_ e: PlacementError, requestID: String, method: String, version: Microversion?, vary: Bool,
                        contentType: String?, accept: String?) -> Answer {
        var err = JSONObject()
        err["status"] = .int(Int64(e.status))
        err["title"] = .string(e.title)
        err["detail"] = .string(e.renderedDetail(method: method, contentType: contentType.map {
            ($0.split(separator: ";").first ?? "").trimmed
        }))
        if let version, version.atLeast(23) { err["code"] = .string(e.code) }
        err["request_id"] = .string(requestID)
        if e.status == 406, version == nil {
            err["max_version"] = .string(Microversion.max.description)
            err["min_version"] = .string(Microversion.min.description)
        }
        var headers = HTTPFields()
        headers[Header.requestID] = requestID
        if let version {
            headers[Header.apiVersion] = "placement \(version)"
            if vary { headers[.vary] = "openstack-api-version" }
        }
        for (k, v) in e.headers { headers[HTTPField.Name(k)!] = v }
        if let accept, wantsHTML(accept) {
            // webob answers a client that asks for HTML (and not JSON) with an HTML page.
            let text = e.explanation(method: method, contentType: contentType) + "<br /><br />\n" + e.detail
            let html = "<html>\n <head>\n  <title>\(e.status) \(e.title)</title>\n </head>\n <body>\n  <h1>\(e.status) \(e.title)</h1>\n  \(text)\n\n\n </body>\n</html>"
            headers[.contentType] = "text/html; charset=UTF-8"
            return Answer(status: e.status, headers: headers, body: ByteBuffer(string: html))
        }
        headers[.contentType] = "application/json"
        let body = JSONWriter.bytes(.object(JSONObject([("errors", .array([.object(err)]))])))
        return Answer(status: e.status, headers: headers, body: ByteBuffer(bytes: body))
    }

    /// The answer to a request whose head the HTTP parser refused, rendered
    /// as Placement renders its errors (no microversion was read: 1.0).
    static func parserRefusal(_ e: PlacementError) -> (HTTPResponse, [UInt8]) {
        let requestID = RequestID.make()
        let err = JSONObject([
            ("status", .int(Int64(e.status))), ("title", .string(e.title)),
            ("detail", .string(e.renderedDetail(method: "", contentType: nil))), ("request_id", .string(requestID)),
        ])
        let body = JSONWriter.bytes(.object(JSONObject([("errors", .array([.object(err)]))])))
        var headers = HTTPFields()
        headers[Header.requestID] = requestID
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(body.count)
        headers[.connection] = "close"
        return (HTTPResponse(status: .init(code: e.status), headerFields: headers), body)
    }

    private func wantsHTML(_ accept: String) -> Bool {
        let types = accept.split(separator: ",").map { $0.split(separator: ";").first.map { $0.trimmed.asciiLowercased } ?? "" }
        return types.contains("text/html") && !types.contains { $0 == "application/json" || $0 == "*/*" || $0 == "application/*" }
    }

    private func unauthorized(_ requestID: String) -> Answer {
        var headers = HTTPFields()
        headers[Header.requestID] = requestID
        headers[.contentType] = "application/json"
        let body: JSON = .object(JSONObject([
            ("message", "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.<br /><br />\n\n\n"),
            ("code", "401 Unauthorized"), ("title", "Unauthorized"),
        ]))
        return Answer(status: 401, headers: headers, body: ByteBuffer(bytes: JSONWriter.bytes(body)))
    }
}

/// A finished answer, before Hummingbird adds `Content-Length`, `Date` and
/// `Server`: the async path hands it on as a `Response`, the inline path
/// (InlineReads.swift) writes it to the channel itself.
struct Answer {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer
    /// A body written as it is produced (never on the inline path).
    var stream: ResponseBody?

    var response: Response {
        Response(status: .init(code: status), headers: headers, body: stream ?? .init(byteBuffer: body))
    }
}

/// Now, as ledger time (for answers Placement stamps with the current time).
func nowMicros() -> Micros { Micros((Date().timeIntervalSince1970 * 1_000_000).rounded()) }
