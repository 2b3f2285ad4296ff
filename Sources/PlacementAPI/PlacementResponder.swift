import Foundation
import HTTPTypes
import Hummingbird
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
        let response = try await placementResponse(to: request, logger: context.logger)
        guard let cors else { return response }
        return cors.apply(method: request.method.rawValue, request: request.headers, to: response)
    }

    private func placementResponse(to request: Request, logger: Logger) async throws -> Response {
        let requestID = RequestID.make()
        var versionForHeaders: Microversion?
        var varyHeader = true
        let method = request.method.rawValue
        do {
            var request = request
            let path = request.uri.path
            let isRoot = path == "/" || path.isEmpty
            if let cl = request.headers[.contentLength] {
                guard let n = Int(cl.trimmed) else {
                    throw PlacementError(400, "content-length header must be an integer")
                }
                if n > limits.maxBodyBytes { throw PlacementError(413, "Request body is larger than \(limits.maxBodyBytes) bytes.") }
                if n > 0, (request.headers[.contentType] ?? "").isEmpty {
                    throw PlacementError(400, "content-type header required when content-length > 0")
                }
            }
            let identity = try authenticate(request.headers, isRoot: isRoot)
            let version = try Microversion.negotiate(request.headers[values: HTTPField.Name("OpenStack-API-Version")!])
            versionForHeaders = version
            let bodyBuffer: ByteBuffer
            do {
                bodyBuffer = try await request.collectBody(upTo: limits.maxBodyBytes)
            } catch {
                throw PlacementError(413, "Request body is larger than \(limits.maxBodyBytes) bytes.")
            }
            let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
                .map { $0.percentDecoded() }
            let host = request.head.authority ?? "localhost"
            var req = PlacementRequest(
                method: method, path: path, query: parseQuery(request.uri.query), headers: request.headers,
                body: Array(buffer: bodyBuffer), version: version, requestID: requestID,
                identity: identity ?? Identity(user: "", projectID: nil, roles: []), policy: policy, base: "http://\(host)")
            if isRoot {
                guard method == "GET" else {
                    throw PlacementError(405, "The method specified is not allowed for this resource.", headers: [("allow", "GET")])
                }
                return finish(try await PlacementAPI.root(api, req), req: req, vary: true)
            }
            guard let (route, params) = PlacementAPI.routes.lazy.compactMap({ r in r.match(segments).map { (r, $0) } }).first else {
                varyHeader = false
                throw PlacementError(404, "")
            }
            guard let handler = route.methods.first(where: { $0.method == method })?.handler else {
                throw PlacementError(405, "The method specified is not allowed for this resource.",
                                     headers: [("allow", route.methods.map(\.method).joined(separator: ", "))])
            }
            req.params = params
            if let asOf = request.headers[Header.asOf] {
                req.asOf = try api.resolveAsOf(asOf, method: method)
            }
            return finish(try await handler(api, req), req: req, vary: true)
        } catch let error as PlacementError {
            if error.status >= 500 {
                logger.error("\(error.status) on \(method) \(request.uri.path) (\(requestID)): \(error.detail)")
            }
            return render(error, requestID: requestID, method: method, version: versionForHeaders, vary: varyHeader,
                          contentType: request.headers[.contentType], accept: request.headers[.accept])
        } catch let error as AuthFailure {
            _ = error
            return unauthorized(requestID)
        } catch {
            // Not a refusal the API words: a fault of ours, which the operator must see.
            logger.error("500 on \(method) \(request.uri.path) (\(requestID)): \(String(reflecting: error))")
            let e = PlacementError(500, "\(error)")
            return render(e, requestID: requestID, method: method, version: versionForHeaders, vary: varyHeader,
                          contentType: request.headers[.contentType], accept: request.headers[.accept])
        }
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
        let systemScope = headers[Header.systemScope]
        let roles: [String]?
        let user: String
        var project: String?
        switch auth {
        case .noauth2:
            guard let token = headers[Header.authToken] else {
                if isRoot { return nil }
                throw AuthFailure()
            }
            let parts = token.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = String(parts[0])
            let tokenProject = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : user
            if systemScope?.isEmpty ?? true { project = tokenProject }
            roles = headers[Header.roles].map { $0.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed) }
                ?? (user == "admin" ? ["admin"] : [])
        case .keystoneHeaders:
            guard headers[Header.identityStatus] == "Confirmed", let u = headers[Header.userID] ?? headers[Header.user] else {
                if isRoot { return nil }
                throw AuthFailure()
            }
            user = u
            roles = headers[Header.roles].map { $0.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmed) }
        }
        project = headers[Header.projectID] ?? headers[Header.tenantID] ?? project
        return Identity(user: user, projectID: project, roles: (roles ?? []).filter { !$0.isEmpty },
                        systemScope: systemScope, domainID: headers[Header.domainID])
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

    private func finish(_ r: PlacementResponse, req: PlacementRequest, vary: Bool) -> Response {
        var headers = HTTPFields()
        headers[Header.requestID] = req.requestID
        headers[Header.apiVersion] = "placement \(req.version)"
        if vary { headers[.vary] = "openstack-api-version" }
        headers[Header.ledgerSequence] = String(r.sequence)
        for (k, v) in r.headers { headers[HTTPField.Name(k)!] = v }
        if req.version.atLeast(15), r.cacheHeaders {
            if let lm = r.lastModified { headers[.lastModified] = httpDate(lm) }
            headers[.cacheControl] = "no-cache"
        }
        if let stream = r.stream {
            return Response(status: .init(code: r.status), headers: headers, body: stream)
        }
        var body = ByteBuffer()
        if let json = r.body {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: JSONWriter.bytes(json))
        } else if let (bytes, type) = r.raw {
            headers[.contentType] = type
            body = ByteBuffer(bytes: bytes)
        }
        return Response(status: .init(code: r.status), headers: headers, body: .init(byteBuffer: body))
    }

    private func render(_ e: PlacementError, requestID: String, method: String, version: Microversion?, vary: Bool,
                        contentType: String?, accept: String?) -> Response {
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
            return Response(status: .init(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        headers[.contentType] = "application/json"
        let body = JSONWriter.bytes(.object(JSONObject([("errors", .array([.object(err)]))])))
        return Response(status: .init(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
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

    private func unauthorized(_ requestID: String) -> Response {
        var headers = HTTPFields()
        headers[Header.requestID] = requestID
        headers[.contentType] = "application/json"
        let body: JSON = .object(JSONObject([
            ("message", "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.<br /><br />\n\n\n"),
            ("code", "401 Unauthorized"), ("title", "Unauthorized"),
        ]))
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body))))
    }
}

/// Now, as ledger time (for answers Placement stamps with the current time).
func nowMicros() -> Micros { Micros((Date().timeIntervalSince1970 * 1_000_000).rounded()) }
