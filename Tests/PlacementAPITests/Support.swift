import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LedgerStore
import NIOCore
import PlacementAPI

func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
}

/// A server over a fresh (or given) data dir, driven in-process.
final class TestServer: @unchecked Sendable {
    let store: LedgerStore
    let writer: Writer
    let app: Application<PlacementResponder>

    init(path: String = tempPath("api"), limits: RequestLimits = RequestLimits(), auth: AuthStrategy = .noauth2,
         policy: PolicyConfig = PolicyConfig(), cors: CORSConfig? = nil) throws {
        store = try LedgerStore(path: path)
        let feed = CommitFeed(last: try store.lastSequence())
        writer = Writer(store: store, onCommit: { feed.publish($0) })
        app = Application(responder: PlacementResponder(api: PlacementAPI(store: store, writer: writer, feed: feed), limits: limits, auth: auth,
                                                     policy: try PolicyEngine(policy), cors: cors))
    }

    deinit { writer.stop() }

    func run<T: Sendable>(_ body: @Sendable (Client) async throws -> T) async throws -> T {
        try await app.test(.router) { client in try await body(Client(client: client)) }
    }

    struct Client: Sendable {
        let client: any TestClientProtocol

        @discardableResult
        func call(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, body: [UInt8]? = nil,
                  version: String = "1.39", token: String? = "admin", contentType: String = "application/json",
                  headers extra: [String: String] = [:]) async throws -> TestResponse {
            var headers: HTTPFields = [:]
            for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
            if let token { headers[HTTPField.Name("x-auth-token")!] = token }
            headers[HTTPField.Name("openstack-api-version")!] = "placement \(version)"
            var buffer: ByteBuffer?
            if let json { buffer = ByteBuffer(string: json) }
            if let body { buffer = ByteBuffer(bytes: body) }
            if let buffer {
                headers[.contentType] = contentType
                headers[.contentLength] = String(buffer.readableBytes)
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: buffer)
        }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var sequence: UInt64? { headers[HTTPField.Name("X-Ledger-Sequence")!].flatMap(UInt64.init) }
}
