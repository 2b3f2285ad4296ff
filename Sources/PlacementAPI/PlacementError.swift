import Ledger

/// An error as a Placement client sees it: status, detail text and, from
/// microversion 1.23, a `code`. Handlers throw it; `PlacementResponder`
/// renders Placement's `{"errors": [...]}` body.
public struct PlacementError: Error, Sendable {
    public var status: Int
    public var detail: String
    public var code: String
    /// Extra response headers (e.g. `Allow` on 405).
    public var headers: [(String, String)] = []

    public init(_ status: Int, _ detail: String, code: String = Rejection.undefined, headers: [(String, String)] = []) {
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers
    }

    public init(_ rejection: Rejection) {
        self.init(rejection.status, rejection.detail, code: rejection.code)
    }

    static func badRequest(_ detail: String) -> PlacementError { PlacementError(400, detail) }
    static func notFound(_ detail: String) -> PlacementError { PlacementError(404, detail) }
    static func conflict(_ detail: String, code: String = Rejection.undefined) -> PlacementError {
        PlacementError(409, detail, code: code)
    }

    /// The HTTP reason phrase Placement (webob) gives.
    var title: String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 409: "Conflict"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 503: "Service Unavailable"
        case 507: "Insufficient Storage"
        default: "Internal Server Error"
        }
    }

    /// webob's explanation that precedes the detail.
    func explanation(method: String, contentType: String?) -> String {
        switch status {
        case 400: "The server could not comply with the request since it is either malformed or otherwise incorrect."
        case 403: "Access was denied to this resource."
        case 404: "The resource could not be found."
        case 405: "The method \(method) is not allowed for this resource. "
        case 406: "The resource could not be generated that was acceptable to your browser (content of type application/json. "
        case 409: "There was a conflict when trying to complete your request."
        case 413: "The request is larger than the server is willing or able to process."
        case 415: "The request media type \(contentType ?? "None") is not supported by this server. "
        case 503: "The server is currently unavailable. Please try again at a later time."
        default: "The server has either erred or is incapable of performing the requested operation."
        }
    }

    /// The `detail` field as Placement renders it (webob joins explanation
    /// and detail; line breaks become spaces).
    func renderedDetail(method: String, contentType: String?) -> String {
        let d = detail.replacingOccurrences(of: "\n", with: " ")
        switch status {
        case 405, 406, 415: return explanation(method: method, contentType: contentType) + "\n\n " + d
        default: return explanation(method: method, contentType: contentType) + "\n\n " + d + "  "
        }
    }
}
