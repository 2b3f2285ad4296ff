import Hummingbird
import HummingbirdCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Sits behind the HTTP/1 decoder. When the decoder refuses a request
/// because its `Content-Length` is not a number, Placement still answers
/// with its JSON error ("content-length header must be an integer"); this
/// handler writes that answer and closes the connection, where Hummingbird
/// would send an empty 400. Any other parser error passes on unchanged.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, parserError == .invalidContentLength else {
            context.fireErrorCaught(error)
            return
        }
        let (head, body) = PlacementResponder.parserRefusal(
            PlacementError.badRequest("content-length header must be an integer"))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
        // The write completes on this channel's event loop, where the context may be used.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }
}

/// Limits on connections, so one client cannot hold them all.
public struct ConnectionLimits: Sendable {
    /// Connections between requests (or reading one too slowly) are closed after this.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Open connections from one client address.
    public var perClient = 256
    /// Request head (request line and headers) size.
    public var maxHeaderBytes = 64 * 1024

    public init(idleTimeout: TimeAmount = .seconds(60), perClient: Int = 256, maxHeaderBytes: Int = 64 * 1024) {
        self.idleTimeout = idleTimeout
        self.perClient = perClient
        self.maxHeaderBytes = maxHeaderBytes
    }
}

/// Counts open connections per client address and closes a new one past the limit.
final class PerClientConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: Int] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func opened(_ client: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let n = open[client, default: 0]
        if n >= limit { return false }
        open[client] = n + 1
        return true
    }

    func closed(_ client: String) {
        lock.lock(); defer { lock.unlock() }
        let n = (open[client] ?? 1) - 1
        open[client] = n > 0 ? n : nil
    }
}

final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let counts: PerClientConnections
    private var client: String?

    init(_ counts: PerClientConnections) { self.counts = counts }

    func handlerAdded(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if counts.opened(address) {
            client = address
        } else {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let client { counts.closed(client) }
        client = nil
    }
}

extension PlacementResponder {
    /// At most `n` open connections in all; more wait to be accepted.
    public static func connectionCap(_ n: Int) -> any AvailableConnectionsDelegate { MaximumAvailableConnections(n) }

    /// Hummingbird's HTTP/1 server with the handlers above in its pipeline,
    /// and GETs and writes answered on the event loop (InlineReads.swift)
    /// unless `inlineReads` is false.
    public func http1Server(limits: ConnectionLimits = ConnectionLimits(), serverName: String? = nil,
                            inlineReads: Bool = true) -> HTTPServerBuilder {
        let counts = PerClientConnections(limit: limits.perClient)
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [MalformedRequestHandler(), ConnectionLimitHandler(counts)],
            idleTimeout: limits.idleTimeout,
            httpDecoderConfiguration: .init(maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes))
        guard inlineReads else { return .http1(configuration: configuration) }
        return HTTPServerBuilder { hummingbird in
            InlineReadsHTTP1Channel(inner: HTTP1Channel(responder: hummingbird, configuration: configuration),
                                    responder: self, serverName: serverName)
        }
    }
}
