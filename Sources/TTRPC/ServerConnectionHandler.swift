import Logging
import NIOCore

/// One server connection's I/O: feeds frames to the connection's rules
/// (`TTRPCConnectionStateMachine`) and carries out what they answer: answers
/// an immediate method on the spot, starts a task for any other and arms
/// its deadline, writes each response whenever it is ready (so that many
/// streams run at once and answer in any order), and holds reads back when
/// the rules say so. Protocol violations are
/// answered on the offending stream, as containerd's Go server does, and the
/// connection goes on. All state lives on the channel's event loop.
///
/// A client that pipelines and never reads holds at most `maxCallsInFlight`
/// calls and their answers, plus one read (at most 16 KiB), and its answers
/// unwritten up to NIO's high-water mark (64 KiB by default).
final class TTRPCServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = TTRPCInboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Answers up to this size reuse the connection's one output buffer.
    private static let reusedBufferCapacity = 16 << 10

    /// What runs for an active stream: its task, and its deadline with the
    /// answer the caller gets when it passes first.
    private struct RunningCall {
        let task: Task<Void, Never>
        let deadline: NIODeadline?
        let lateAnswer: @Sendable () -> TTRPCError
    }

    private var rules: TTRPCConnectionStateMachine
    private let tracker: CallTracker
    private let activity: ConnectionActivity
    private let logger: Logger
    private var running: [UInt32: RunningCall] = [:]
    /// One timer per connection, for the earliest deadline of the calls
    /// running (not one per call: nearly every call ends long before its
    /// deadline, and a timer per call costs allocations and a heap update).
    private var deadlineTimer: (at: NIODeadline, scheduled: Scheduled<Void>)?
    private var context: ChannelHandlerContext?
    /// Where the next answer is written: once the socket has taken the last
    /// one, NIO lets go of it and its memory is used again.
    private var output: ByteBuffer?

    init(
        services: TTRPCServiceSet, filter: TTRPCMethodFilter, listenerName: String,
        tracker: CallTracker, activity: ConnectionActivity = ConnectionActivity(), maxCallsInFlight: Int,
        logger: Logger
    ) {
        self.rules = TTRPCConnectionStateMachine(
            services: services, filter: filter, listenerName: listenerName, maxCallsInFlight: maxCallsInFlight)
        self.tracker = tracker
        self.activity = activity
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandonRunningCalls()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandonRunningCalls()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if rules.readRequested(channelWritable: context.channel.isWritable) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        goOn()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        activity.touched()
        if let action = rules.received(unwrapInboundIn(data)) { perform(action) }
        goOn()
    }

    /// The handler's answer or the deadline, whichever comes first.
    private func callEnded(_ streamID: UInt32, _ result: Result<[UInt8], TTRPCError>) {
        if let action = rules.callEnded(streamID: streamID, result: result) { perform(action) }
        goOn()
    }

    /// Once calls ended: frames that waited for them go on, then a read held back.
    private func goOn() {
        while let action = rules.nextWaiting() { perform(action) }
        guard let context, rules.releaseHeldRead(channelWritable: context.channel.isWritable) else { return }
        context.read()
    }

    private func perform(_ action: TTRPCConnectionStateMachine.Action) {
        switch action {
        case .start(let streamID, let request, let method):
            switch method.body {
            case .immediate(let handler):
                activity.answeredAtOnce()
                let result: Result<[UInt8], TTRPCError>
                do { result = .success(try handler(request.payload)) } catch {
                    result = .failure(TTRPCError(answering: error))
                }
                // A finish, never another start: frames that waited go on in `goOn`.
                if let finish = rules.callEnded(streamID: streamID, result: result) { perform(finish) }
            case .task(let handler):
                start(streamID: streamID, request: request, handler: handler)
            }
        case .finish(let streamID, let response):
            if let call = running.removeValue(forKey: streamID) {
                call.task.cancel()
                tracker.end()
                activity.callEnded()
            }
            send(streamID, response)
        case .reject(let streamID, let error):
            logger.debug("rejecting stream", metadata: ["stream": "\(streamID)", "status": "\(error)"])
            send(streamID, TTRPCResponse(error: error))
        case .ignore(let frame):
            logger.debug("ignoring frame", metadata: ["type": "\(frame.typeByte)", "stream": "\(frame.streamID)"])
        }
    }

    private func start(streamID: UInt32, request: TTRPCRequest, handler: @escaping TTRPCMethodHandler) {
        guard let context else { return }
        let eventLoop = context.eventLoop
        let deadline: NIODeadline? = request.timeoutNano > 0 ? .now() + .nanoseconds(request.timeoutNano) : nil
        let callContext = TTRPCCallContext(
            service: request.service, method: request.method,
            metadata: request.metadata, deadline: deadline, listener: rules.listenerName)
        let payload = request.payload
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        tracker.begin()
        activity.callStarted()
        let task = Task {
            let result: Result<[UInt8], TTRPCError>
            do {
                result = .success(try await handler(callContext, payload))
            } catch is CancellationError {
                result = .failure(TTRPCError(.cancelled, "call cancelled"))
            } catch {
                result = .failure(TTRPCError(answering: error))
            }
            eventLoop.execute { loopBoundSelf.value.callEnded(streamID, result) }
        }
        let (service, method, timeout) = (request.service, request.method, request.timeoutNano)
        running[streamID] = RunningCall(
            task: task, deadline: deadline,
            lateAnswer: {
                TTRPCError(.deadlineExceeded, "\(service)/\(method) did not finish within \(timeout) ns")
            })
        if let deadline { armDeadlineTimer(for: deadline) }
    }

    /// Makes sure the connection's timer fires by `deadline`.
    private func armDeadlineTimer(for deadline: NIODeadline) {
        guard let context else { return }
        if let armed = deadlineTimer, armed.at <= deadline { return }
        deadlineTimer?.scheduled.cancel()
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineTimer = (
            deadline, context.eventLoop.scheduleTask(deadline: deadline) { loopBoundSelf.value.deadlinesPassed() }
        )
    }

    /// The timer fired: every call whose deadline has passed ends with
    /// DEADLINE_EXCEEDED, and the timer is set again for the earliest left.
    private func deadlinesPassed() {
        deadlineTimer = nil
        let now = NIODeadline.now()
        let late = running.filter { $0.value.deadline.map { $0 <= now } ?? false }
        for (streamID, call) in late.sorted(by: { $0.key < $1.key }) {
            callEnded(streamID, .failure(call.lateAnswer()))
        }
        if let next = running.values.compactMap(\.deadline).min() { armDeadlineTimer(for: next) }
    }

    private func send(_ streamID: UInt32, _ response: TTRPCResponse) {
        guard let context else { return }
        var buffer = output ?? context.channel.allocator.buffer(capacity: 256)
        output = nil
        buffer.clear()
        response.writeFrame(streamID: streamID, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if buffer.capacity <= Self.reusedBufferCapacity { output = buffer }
    }

    private func abandonRunningCalls() {
        rules.closed()
        deadlineTimer?.scheduled.cancel()
        deadlineTimer = nil
        for (_, call) in running {
            call.task.cancel()
            tracker.end()
            activity.callEnded()
        }
        running.removeAll()
    }
}
