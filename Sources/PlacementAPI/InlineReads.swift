import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Ledger
import Logging
import NIOCore
import NIOHTTPTypes

/// GETs answered on the channel's event loop, where they arrive, and
/// writes answered from a task that runs on that event loop.
///
/// Every GET handler reads one LMDB snapshot and never waits, yet through
/// Hummingbird each request still crosses from the event loop to a Swift
/// task and back: an async sequence, a task switch and a thread wake-up each
/// way. Under load that crossing cost more server CPU than the read itself
/// (perf: 42% of a `GET /` in the task threads, 106 µs of CPU each). This
/// handler sits right after Hummingbird's connection-state handler (which
/// still sees every request and response: keep-alive, `Connection: close`,
/// idle timeout and graceful shutdown stay Hummingbird's) and answers such a
/// GET itself, with the same `PlacementResponder` code and the same headers
/// Hummingbird adds (`Content-Length`, `Date`, `Server`).
///
/// A write (PUT, POST, DELETE with a body of known length) must wait for
/// its commit, so it cannot be answered right here; but the wait need not
/// cost four thread crossings (event loop, task, writer, task, event loop).
/// The handler reads the body, then runs the same answering code in a task
/// whose executor is this event loop (`EventLoopTaskExecutor`): the request
/// crosses to the writer thread and back, and nothing else. Until the answer
/// is written, the connection's later requests wait here, in order, and
/// the channel is not read further.
///
/// Everything else goes on to Hummingbird unchanged: chunked bodies, the
/// audit API, CORS. While a request handed on has not been answered in
/// full, later requests on the connection are handed on too, so pipelined
/// answers keep their order. (While the writes' answers came from
/// Hummingbird's tasks, GETs went through Hummingbird too whenever a write
/// waited: answered here they held up those answers' I/O. With writes
/// answered here as well, GETs here cost mixed load nothing: README.)
final class InlineReadHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let responder: PlacementResponder
    private let serverName: String?
    private let logger: Logger
    /// Requests handed on whose answers have not been written to the end.
    private var handedOn = 0
    /// A GET held here until its end arrives.
    private var held: HTTPRequest?
    /// A write whose body is being read here.
    private var writing: (head: HTTPRequest, body: ByteBuffer)?
    /// A write answered here is waiting for its commit: what arrives
    /// meanwhile waits in `backlog`, and a read asked for in `readWanted`.
    private var answering = false
    private var backlog: [HTTPRequestPart] = []
    private var readWanted = false
    private var closed = false
    private var needsFlush = false
    private var executor: EventLoopTaskExecutor?

    init(responder: PlacementResponder, serverName: String?, logger: Logger) {
        self.responder = responder
        self.serverName = serverName
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if answering { return backlog.append(part) }
        switch part {
        case .head(let head):
            if handedOn == 0, responder.mayAnswerInline(head) {
                held = head
            } else if handedOn == 0, responder.mayWriteInline(head) {
                writing = (head, ByteBuffer())
            } else {
                handOn(context, data)
            }
        case .body(var chunk):
            if writing != nil {
                writing!.body.writeBuffer(&chunk)
                return
            }
            // Not expected of a GET without Content-Length or Transfer-Encoding;
            // should one come, the request goes on whole.
            if let head = held { handOn(context, wrapInboundOut(.head(head))) }
            context.fireChannelRead(data)
        case .end:
            if let (head, body) = writing {
                writing = nil
                return answerWrite(head, body, context)
            }
            guard let head = held else { return context.fireChannelRead(data) }
            held = nil
            guard let answer = responder.inlineAnswer(to: head, logger: logger) else {
                handOn(context, wrapInboundOut(.head(head)))
                return context.fireChannelRead(data)
            }
            write(answer, context)
        }
    }

    private func handOn(_ context: ChannelHandlerContext, _ head: NIOAny) {
        held = nil
        handedOn += 1
        context.fireChannelRead(head)
    }

    /// Runs the write's handler in a task on this event loop; the answer is
    /// written when it comes, then whatever arrived meanwhile is taken up.
    private func answerWrite(_ head: HTTPRequest, _ body: ByteBuffer, _ context: ChannelHandlerContext) {
        answering = true
        let loop = context.eventLoop
        let executor = self.executor ?? EventLoopTaskExecutor(loop)
        self.executor = executor
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let responder = self.responder, logger = self.logger
        Task(executorPreference: executor) {
            let answer = await responder.inlineWriteAnswer(to: head, body: body, logger: logger)
            let finish = { @Sendable in
                let (handler, context) = bound.value
                handler.answered(answer, context)
            }
            if loop.inEventLoop { finish() } else { loop.execute(finish) }
        }
    }

    private func answered(_ answer: Answer, _ context: ChannelHandlerContext) {
        answering = false
        // The client went away while the write waited: it is committed, nobody is told.
        guard !closed else { return backlog = [] }
        write(answer, context)
        let waiting = backlog
        backlog = []
        for part in waiting { channelRead(context: context, data: NIOAny(part)) }
        if !waiting.isEmpty { context.fireChannelReadComplete() }
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        if readWanted, !answering {
            readWanted = false
            context.read()
        }
    }

    /// The answer as Hummingbird would write it.
    private func write(_ answer: Answer, _ context: ChannelHandlerContext) {
        var headers = answer.headers
        // `finish` sets none of these: appending spares the subscript's search.
        headers.append(HTTPField(name: .contentLength, value: String(answer.body.readableBytes)))
        headers.append(HTTPField(name: .date, value: DateHeader.now()))
        if let serverName { headers.append(HTTPField(name: .server, value: serverName)) }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .init(code: answer.status), headerFields: headers))), promise: nil)
        if answer.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(answer.body)), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        needsFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        backlog = []
        context.fireChannelInactive()
    }

    /// No more is read from the socket while a write answered here waits.
    func read(context: ChannelHandlerContext) {
        if answering {
            readWanted = true
        } else {
            context.read()
        }
    }

    /// Answers from Hummingbird pass on their way out; their ends are counted.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { handedOn = max(0, handedOn - 1) }
        context.write(data, promise: promise)
    }
}

/// A Swift task executor that runs jobs on one NIO event loop: a task that
/// prefers it runs there, and resumes there after it waits.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let loop: any EventLoop
    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Hummingbird's HTTP/1 channel with `InlineReadHandler` placed after its
/// connection-state handler.
struct InlineReadsHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let responder: PlacementResponder
    let serverName: String?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let sync = channel.pipeline.syncOperations
            let state = try sync.context(handlerType: HTTPConnectionStateHandler.self)
            try sync.addHandler(InlineReadHandler(responder: responder, serverName: serverName, logger: logger),
                                position: .after(state.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// `Date` as Hummingbird writes it, formatted once a second.
enum DateHeader {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: (second: Int64, text: String) = (0, "")

    static func now() -> String {
        let second = nowMicros() / 1_000_000
        lock.lock()
        defer { lock.unlock() }
        if cached.second != second { cached = (second, httpDate(second * 1_000_000)) }
        return cached.text
    }
}
