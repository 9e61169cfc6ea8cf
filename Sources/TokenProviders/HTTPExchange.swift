import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where one remote service listens: what the agent needs of an `http://` or
/// `https://` URL (the configuration has checked the scheme).
struct ServiceURL: Equatable {
    let secure: Bool
    /// The host as the socket wants it: an IPv6 literal without its brackets.
    let host: String
    let port: Int
    /// What precedes each request path ("" or "/prefix"), with no trailing slash.
    let pathPrefix: String

    /// The `Host` header: the authority as written, the port only when not the scheme's own.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// True for a numeric address, which TLS may not name in SNI: NIOSSL then
    /// checks the certificate against the address it connected to.
    var hostIsAddress: Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst(7)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var prefix = String(rest.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" })
        while prefix.hasSuffix("/") { prefix.removeLast() }
        pathPrefix = prefix
        guard !authority.contains("@") else { return nil }  // credentials in a URL are not supported
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty else { return nil }
        if let portText {
            // An empty port is the scheme's own (RFC 3986, 3.2.3).
            guard portText.allSatisfy({ ("0"..."9").contains($0) }), portText.count <= 5 else { return nil }
            let port = portText.isEmpty ? (secure ? 443 : 80) : Int(portText)!
            guard (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            port = secure ? 443 : 80
        }
    }
}

/// One HTTP/1.1 request and its answer over a connection of its own, closed
/// afterwards: GetToken makes two or three requests per call, so pooling and
/// keep-alive would buy nothing. Redirects are not followed (the 3xx is the
/// answer); the answer is read up to `maxAnswerSize` bytes and no further.
enum HTTPExchange {
    struct Answer {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: [UInt8]
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case timedOut
        case tooLarge(limit: Int)
        case closedEarly

        var description: String {
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
    static func send(
        _ method: HTTPMethod, _ path: String, to service: ServiceURL, headers: [(String, String)], body: [UInt8],
        tls: NIOSSLContext?, deadline: NIODeadline, maxAnswerSize: Int,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
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
