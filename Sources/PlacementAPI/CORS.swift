import HTTPTypes
import Hummingbird

/// Cross-origin requests, as Placement answers them when its `[cors]`
/// section names allowed origins (oslo.middleware's CORS filter, which sits
/// outside authentication: a preflight needs no token).
public struct CORSConfig: Sendable {
    public var allowedOrigins: [String]
    public var allowHeaders: [String] = []
    public var exposeHeaders: [String] = []
    public var allowMethods = ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PATCH"]
    public var allowCredentials = true
    public var maxAge: Int? = 3600

    public init(allowedOrigins: [String], allowHeaders: [String] = []) {
        self.allowedOrigins = allowedOrigins
        self.allowHeaders = allowHeaders
    }

    static let simpleHeaders = ["Accept", "Accept-Language", "Content-Type", "Cache-Control", "Content-Language",
                                "Expires", "Last-Modified", "Pragma"]

    private func origin(_ request: HTTPFields) -> String? {
        guard let o = request[HTTPField.Name("Origin")!] else { return nil }
        if allowedOrigins.contains(o) { return o }
        return allowedOrigins.contains("*") ? "*" : nil
    }

    /// Decorates (or, for a refused preflight, replaces) the response.
    func apply(method: String, request: HTTPFields, to response: Response) -> Response {
        var response = response
        if response.headers[HTTPField.Name("Access-Control-Allow-Origin")!] != nil { return response }
        func set(_ name: String, _ value: String) { response.headers[HTTPField.Name(name)!] = value }
        if method == "OPTIONS" {
            // A preflight always succeeds; whether it grants anything is in its headers.
            if !(200..<300).contains(response.status.code) { response = Response(status: .ok, headers: [.contentLength: "0"]) }
            guard let origin = origin(request), let wanted = request[HTTPField.Name("Access-Control-Request-Method")!] else {
                return response
            }
            let asked = (request[HTTPField.Name("Access-Control-Request-Headers")!] ?? "")
                .split(separator: ",").map(\.trimmed).filter { !$0.isEmpty }
            let permitted = Set((allowHeaders + Self.simpleHeaders).map { $0.uppercased() })
            guard allowMethods.contains(wanted), asked.allSatisfy({ permitted.contains($0.uppercased()) }) else { return response }
            set("Vary", "Origin")
            set("Access-Control-Allow-Origin", origin)
            if allowCredentials { set("Access-Control-Allow-Credentials", "true") }
            if let maxAge { set("Access-Control-Max-Age", String(maxAge)) }
            set("Access-Control-Allow-Methods", wanted)
            if !asked.isEmpty { set("Access-Control-Allow-Headers", asked.joined(separator: ",")) }
            return response
        }
        guard let origin = origin(request) else { return response }
        set("Vary", response.headers[.vary].map { $0 + ",Origin" } ?? "Origin")
        set("Access-Control-Allow-Origin", origin)
        if allowCredentials { set("Access-Control-Allow-Credentials", "true") }
        if !exposeHeaders.isEmpty { set("Access-Control-Expose-Headers", exposeHeaders.joined(separator: ",")) }
        return response
    }
}
