import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A ttrpc client over one connection: many calls may be in flight at once.
public final class TTRPCClient: Sendable {
    /// How long past the caller's timeout the client waits for the server's
    /// own DEADLINE_EXCEEDED before it gives up by itself.
    public static let deadlineGrace = TimeAmount.seconds(1)

    private let channel: Channel
    private let handler: NIOLoopBound<TTRPCClientHandler>

    private init(channel: Channel, handler: NIOLoopBound<TTRPCClientHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects to `address`; throws `TTRPCTransportError` naming it when nothing answers.
    public static func connect(
        to address: SocketURI, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TTRPCClient {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(TTRPCFrameDecoder()),
                        MessageToByteHandler(TTRPCFrameEncoder()),
                        TTRPCClientHandler(),
                    ])
                }
            }
        let channel: Channel
        do {
            switch address {
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .vsock(let cid, let port):
                channel = try await bootstrap.connect(
                    to: VsockAddress(cid: .init(rawValue: cid), port: .init(rawValue: port))
                ).get()
            }
        } catch {
            throw TTRPCTransportError("cannot connect to \(address): \(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: TTRPCClientHandler.self), eventLoop: channel.eventLoop
            )
        }.get()
        return TTRPCClient(channel: channel, handler: handler)
    }

    /// Calls `service/method`; returns the response payload or throws the
    /// `TTRPCError` the server answered with (or `TTRPCTransportError`).
    public func call(
        service: String, method: String, payload: [UInt8],
        timeout: TimeAmount? = nil, metadata: TTRPCMetadata = []
    ) async throws -> [UInt8] {
        let request = TTRPCRequest(
            service: service, method: method, payload: payload,
            timeoutNano: timeout.map { Int64($0.nanoseconds) } ?? 0, metadata: metadata)
        let promise = channel.eventLoop.makePromise(of: TTRPCFrame.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.send(data: request.protobufBytes(), promise: promise)
        }
        if let timeout {
            let timer = channel.eventLoop.scheduleTask(in: timeout + Self.deadlineGrace) {
                promise.fail(
                    TTRPCError(
                        .deadlineExceeded, "no answer to \(service)/\(method) within \(timeout + Self.deadlineGrace)"))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        let frame = try await promise.futureResult.get()
        let response: TTRPCResponse
        do {
            response = try TTRPCResponse(protobufBytes: frame.data)
        } catch {
            throw TTRPCTransportError("the server's response to \(service)/\(method) does not decode: \(error)")
        }
        return try response.result().get()
    }

    /// Writes `frame` exactly as given and returns the first response frame on
    /// its stream id. For diagnostics and protocol tests: no checks are made.
    public func exchange(_ frame: TTRPCFrame) async throws -> TTRPCFrame {
        let promise = channel.eventLoop.makePromise(of: TTRPCFrame.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.send(raw: frame, promise: promise)
        }
        return try await promise.futureResult.get()
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Matches response frames to waiting calls by stream id. Stream ids are
/// taken and frames written on the event loop, so ids reach the wire in order.
final class TTRPCClientHandler: ChannelInboundHandler {
    typealias InboundIn = TTRPCInboundFrame
    typealias OutboundOut = TTRPCFrame

    private var nextStreamID: UInt32 = 1
    private var pending: [UInt32: EventLoopPromise<TTRPCFrame>] = [:]
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The context holds this handler: keeping it after removal would leak both.
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(data: [UInt8], promise: EventLoopPromise<TTRPCFrame>) {
        let streamID = nextStreamID
        nextStreamID &+= 2
        send(raw: TTRPCFrame(streamID: streamID, type: .request, data: data), promise: promise)
    }

    func send(raw frame: TTRPCFrame, promise: EventLoopPromise<TTRPCFrame>) {
        guard let context, context.channel.isActive else {
            promise.fail(TTRPCTransportError("the connection is closed"))
            return
        }
        // A call that timed out locally stays here until its late answer or
        // the connection's end; completing a finished promise is a no-op.
        pending[frame.streamID] = promise
        context.writeAndFlush(wrapOutboundOut(frame)).whenFailure { error in
            promise.fail(TTRPCTransportError("cannot send: \(error)"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .frame(let frame) = unwrapInboundIn(data), frame.type == .response else { return }
        pending.removeValue(forKey: frame.streamID)?.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let waiting = pending
        pending.removeAll()
        for (_, promise) in waiting {
            promise.fail(TTRPCTransportError("the connection closed before an answer came"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
