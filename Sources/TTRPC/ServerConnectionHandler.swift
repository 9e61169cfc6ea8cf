import Logging
import NIOCore

/// One server connection: checks each frame against the protocol, starts a
/// task per request, and writes each response whenever its task is done, so
/// that many streams run at once and answer in any order. Protocol violations
/// are answered on the offending stream, as containerd's Go server does, and
/// the connection goes on. All state lives on the channel's event loop.
///
/// Back-pressure: at most `maxCallsInFlight` calls of one connection run at
/// once; frames that arrive in the same read past that wait, in order, for a
/// call to finish (one read is at most 16 KiB). No more bytes are read from
/// the client while frames wait, while its calls are at the limit, or while
/// its answers are unwritten beyond NIO's high-water mark (64 KiB by
/// default). So a client that pipelines and never reads holds at most
/// `maxCallsInFlight` calls and their answers, plus one read.
final class TTRPCServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = TTRPCInboundFrame
    typealias OutboundIn = TTRPCFrame
    typealias OutboundOut = TTRPCFrame

    private struct ActiveCall {
        let task: Task<Void, Never>
        let deadlineTimer: Scheduled<Void>?
    }

    private let services: TTRPCServiceSet
    private let filter: TTRPCMethodFilter
    private let listenerName: String
    private let tracker: CallTracker
    private let maxConcurrentStreams: Int
    private let logger: Logger

    private var lastStreamID: UInt32 = 0
    private var active: [UInt32: ActiveCall] = [:]
    private var context: ChannelHandlerContext?
    private var executor: EventLoopTaskExecutor?
    /// A read was asked for while reading was paused (see `mayRead`); it is
    /// passed on once the client has taken its answers and calls have finished.
    private var readHeldBack = false
    /// Frames read while the connection's calls were at `maxCallsInFlight`,
    /// handled in arrival order as calls finish.
    private var waiting = CircularBuffer<TTRPCInboundFrame>()

    init(services: TTRPCServiceSet, filter: TTRPCMethodFilter, listenerName: String,
         tracker: CallTracker, maxConcurrentStreams: Int, logger: Logger) {
        self.services = services
        self.filter = filter
        self.listenerName = listenerName
        self.tracker = tracker
        self.maxConcurrentStreams = maxConcurrentStreams
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waiting.removeAll()
        abandonActiveCalls()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiting.removeAll()
        abandonActiveCalls()
        context.fireChannelInactive()
    }

    /// Calls of one connection that run at once; more wait (see above).
    static let maxCallsInFlight = 64

    private var atCallLimit: Bool { active.count >= Self.maxCallsInFlight }

    private func mayRead(_ context: ChannelHandlerContext) -> Bool {
        context.channel.isWritable && !atCallLimit && waiting.isEmpty
    }

    func read(context: ChannelHandlerContext) {
        if mayRead(context) {
            context.read()
        } else {
            readHeldBack = true
        }
    }

    /// Passes on a read held back once the reason for holding it is gone.
    private func resumeReading() {
        guard readHeldBack, let context, mayRead(context) else { return }
        readHeldBack = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if atCallLimit || !waiting.isEmpty {
            waiting.append(frame)
        } else {
            handle(frame)
        }
    }

    /// Handles waiting frames while calls may start.
    private func handleWaiting() {
        while !atCallLimit, let frame = waiting.popFirst() {
            handle(frame)
        }
    }

    private func handle(_ inbound: TTRPCInboundFrame) {
        switch inbound {
        case .oversizedStarted:
            break // answered once its data has been read past
        case .oversized(let streamID, let length):
            reject(streamID, TTRPCError(.resourceExhausted,
                "message length \(length) exceeds maximum message size of \(TTRPCFrame.maxDataLength)"))
        case .frame(let frame):
            handle(frame)
        }
    }

    private func handle(_ frame: TTRPCFrame) {
        guard frame.streamID % 2 == 1 else {
            reject(frame.streamID, TTRPCError(.invalidArgument, "StreamID must be odd for client initiated streams"))
            return
        }
        switch frame.type {
        case .request:
            handleRequest(frame)
        case .data:
            if active[frame.streamID] != nil {
                finish(frame.streamID, .failure(TTRPCError(.invalidArgument,
                    "data frames are not accepted on stream \(frame.streamID): every method of this server is unary")))
            } else {
                reject(frame.streamID, TTRPCError(.invalidArgument, "StreamID is no longer active"))
            }
        case .response, nil:
            // Kept for forward compatibility, as containerd does: unknown types are ignored.
            logger.debug("ignoring frame", metadata: ["type": "\(frame.typeByte)", "stream": "\(frame.streamID)"])
        }
    }

    private func handleRequest(_ frame: TTRPCFrame) {
        let streamID = frame.streamID
        guard streamID > lastStreamID else {
            reject(streamID, TTRPCError(.invalidArgument, "StreamID cannot be re-used and must increment"))
            return
        }
        lastStreamID = streamID

        let request: TTRPCRequest
        do {
            request = try TTRPCRequest(protobufBytes: frame.data)
        } catch {
            reject(streamID, TTRPCError(.invalidArgument, "unmarshal request error: \(error)"))
            return
        }
        let method: TTRPCMethodEntry
        switch services.lookup(service: request.service, method: request.method) {
        case .failure(let error):
            reject(streamID, error)
            return
        case .success(let found):
            method = found
        }
        guard filter.allows(method: request.method) else {
            reject(streamID, TTRPCError(.permissionDenied,
                "method \(request.method) is not allowed on listener \(listenerName)"))
            return
        }
        guard active.count < maxConcurrentStreams else {
            reject(streamID, TTRPCError(.resourceExhausted,
                "too many calls in flight on this connection (limit \(maxConcurrentStreams))"))
            return
        }
        guard let context, let executor else { return }
        start(streamID: streamID, request: request, method: method, eventLoop: context.eventLoop, executor: executor)
    }

    private func start(streamID: UInt32, request: TTRPCRequest, method: TTRPCMethodEntry, eventLoop: EventLoop,
                       executor: EventLoopTaskExecutor) {
        let deadline: NIODeadline? = request.timeoutNano > 0 ? .now() + .nanoseconds(request.timeoutNano) : nil
        let callContext = TTRPCCallContext(service: request.service, method: request.method,
                                           metadata: request.metadata, deadline: deadline, listener: listenerName)
        let payload = request.payload
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        tracker.begin()
        let handler = method.handler
        let preferred: (any TaskExecutor)? = method.placement == .eventLoop ? executor : nil
        let task = Task(executorPreference: preferred) {
            let result: Result<[UInt8], TTRPCError>
            do {
                result = .success(try await handler(callContext, payload))
            } catch is CancellationError {
                result = .failure(TTRPCError(.cancelled, "call cancelled"))
            } catch {
                result = .failure(TTRPCError(answering: error))
            }
            eventLoop.execute { loopBoundSelf.value.finish(streamID, result) }
        }
        let timer = deadline.map { deadline in
            eventLoop.scheduleTask(deadline: deadline) {
                loopBoundSelf.value.finish(streamID, .failure(TTRPCError(.deadlineExceeded,
                    "\(request.service)/\(request.method) did not finish within \(request.timeoutNano) ns")))
            }
        }
        active[streamID] = ActiveCall(task: task, deadlineTimer: timer)
    }

    /// Answers an active stream once: whichever of the handler and the
    /// deadline comes first wins, the other finds the stream gone.
    private func finish(_ streamID: UInt32, _ result: Result<[UInt8], TTRPCError>) {
        guard let call = active.removeValue(forKey: streamID) else { return }
        call.deadlineTimer?.cancel()
        call.task.cancel()
        tracker.end()
        defer {
            handleWaiting()
            resumeReading()
        }
        switch result {
        case .success(let payload):
            if payload.count > TTRPCFrame.maxDataLength - 16 {
                reject(streamID, TTRPCError(.resourceExhausted,
                    "response of \(payload.count) bytes exceeds maximum message size of \(TTRPCFrame.maxDataLength)"))
            } else {
                send(streamID, TTRPCResponse(payload: payload))
            }
        case .failure(let error):
            send(streamID, TTRPCResponse(error: error))
        }
    }

    private func reject(_ streamID: UInt32, _ error: TTRPCError) {
        logger.debug("rejecting stream", metadata: ["stream": "\(streamID)", "status": "\(error)"])
        send(streamID, TTRPCResponse(error: error))
    }

    private func send(_ streamID: UInt32, _ response: TTRPCResponse) {
        guard let context else { return }
        let frame = TTRPCFrame(streamID: streamID, type: .response, data: response.protobufBytes())
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func abandonActiveCalls() {
        for (_, call) in active {
            call.deadlineTimer?.cancel()
            call.task.cancel()
            tracker.end()
        }
        active.removeAll()
    }
}
