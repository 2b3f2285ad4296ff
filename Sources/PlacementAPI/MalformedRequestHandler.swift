import Hummingbird
import HummingbirdCore
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
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

extension PlacementResponder {
    /// Hummingbird's HTTP/1 server with the handler above in its pipeline.
    public static func http1Server(idleTimeout: TimeAmount? = nil) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [MalformedRequestHandler()], idleTimeout: idleTimeout))
    }
}
