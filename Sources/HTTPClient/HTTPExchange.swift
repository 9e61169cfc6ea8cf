import Configuration
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

extension ServiceURL {
    /// True for a numeric address, which TLS may not name in SNI: NIOSSL then
    /// checks the certificate against the address it connected to.
    public var hostIsAddress: Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// One HTTP/1.1 request and its answer over a connection of its own, closed
/// afterwards: GetToken makes two or three requests per call, so pooling and
/// keep-alive would buy nothing. Redirects are not followed (the 3xx is the
/// answer); the answer is read up to `maxAnswerSize` bytes and no further.
public enum HTTPExchange {
    public struct Answer: Sendable {
        public let status: HTTPResponseStatus
        public let headers: HTTPHeaders
        public let body: [UInt8]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case timedOut
        case tooLarge(limit: Int)
        case closedEarly

        public var description: String {
            switch self {
            case .timedOut: "no answer before the deadline"
            case .tooLarge(let limit): "the answer is longer than \(limit) bytes"
            case .closedEarly: "the connection closed before the answer was complete"
            }
        }
    }

    /// Sends `method path` with `body` and returns the whole answer, or throws
    /// `Failure`, a NIO connection error or a TLS error. `tls` is required for
    /// an `https://` service.
    public static func send(
        _ method: HTTPMethod, _ path: String, to service: ServiceURL, headers: [(String, String)], body: [UInt8],
        tls: NIOSSLContext?, deadline: NIODeadline, maxAnswerSize: Int, group: EventLoopGroup
    ) async throws -> Answer {
        let eventLoop = group.next()
        let answer = eventLoop.makePromise(of: Answer.self)
        let serverHostname = service.secure && !service.hostIsAddress ? service.host : nil
        let connectLimit = deadline - .now()
        guard connectLimit > .zero else { throw Failure.timedOut }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectLimit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(AnswerCollector(answer: answer, limit: maxAnswerSize))
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: service.host, port: service.port).get()
        } catch ChannelError.connectTimeout {
            answer.fail(Failure.timedOut)
            throw Failure.timedOut
        } catch {
            answer.fail(error)
            throw error
        }
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            answer.fail(Failure.timedOut)
            channel.close(promise: nil)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }

        var head = HTTPRequestHead(version: .http1_1, method: method, uri: service.pathPrefix + path)
        head.headers.add(name: "Host", value: service.hostHeader)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)

        return try await withTaskCancellationHandler {
            try await answer.futureResult.get()
        } onCancel: {
            answer.fail(CancellationError())
            channel.close(promise: nil)
        }
    }
}

/// Gathers one response; any end other than its last part fails the promise.
private final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let answer: EventLoopPromise<HTTPExchange.Answer>
    private let limit: Int
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    init(answer: EventLoopPromise<HTTPExchange.Answer>, limit: Int) {
        self.answer = answer
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            // An informational 1xx head is followed by the real one.
            if received.status.code >= 200 { head = received }
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= limit else {
                answer.fail(HTTPExchange.Failure.tooLarge(limit: limit))
                context.close(promise: nil)
                return
            }
            body += buffer.readableBytesView
        case .end:
            if let head {
                answer.succeed(HTTPExchange.Answer(status: head.status, headers: head.headers, body: body))
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(HTTPExchange.Failure.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let closedEarly = (error as? HTTPParserError) == .invalidEOFState
        answer.fail(closedEarly ? HTTPExchange.Failure.closedEarly : error)
        context.close(promise: nil)
    }
}
