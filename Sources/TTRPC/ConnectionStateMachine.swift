import NIOCore
import ProtobufCSupport

/// The rules of one server connection as a value, no I/O: stream ids, method
/// lookup, the listener's allowlist, the limits on calls, which of a call's
/// answer and its deadline wins, and when to read more. Each event returns
/// what the connection handler must do; the handler owns the tasks, timers
/// and the channel (docs/design.md, "The wire").
///
/// Back-pressure: at most `maxCallsInFlight` calls run at once; frames that
/// arrive past that wait, in order, for a call to finish. No read is passed
/// on while frames wait, while calls are at the limit, or while the channel
/// is not writable (the client leaves its answers unread).
struct TTRPCConnectionStateMachine {
    /// What the connection handler does next.
    enum Action {
        /// Run the method's handler for this request (the stream is now active).
        case start(streamID: UInt32, request: TTRPCRequest, method: TTRPCMethodEntry)
        /// The active call on this stream ends: stop its task and deadline,
        /// send this response.
        case finish(streamID: UInt32, response: TTRPCResponse)
        /// Answer a frame that broke a rule; no call ends.
        case reject(streamID: UInt32, error: TTRPCError)
        /// A frame of a type a server does not take, kept for forward
        /// compatibility as containerd does: dropped.
        case ignore(TTRPCFrame)
    }

    let services: TTRPCServiceSet
    let filter: TTRPCMethodFilter
    let listenerName: String
    /// Calls of one connection that run at once; frames past them wait (see above).
    let maxCallsInFlight: Int

    private(set) var lastStreamID: UInt32 = 0
    private(set) var active: Set<UInt32> = []
    /// Frames read while calls were at `maxCallsInFlight`.
    private var waiting = CircularBuffer<TTRPCInboundFrame>()
    /// A read was asked for while reading was paused; it goes on later.
    private var readHeldBack = false
    /// Where requests are unpacked, used again for each.
    private let scratch = ProtobufCScratch()

    init(services: TTRPCServiceSet, filter: TTRPCMethodFilter, listenerName: String, maxCallsInFlight: Int) {
        self.services = services
        self.filter = filter
        self.listenerName = listenerName
        self.maxCallsInFlight = max(1, maxCallsInFlight)
    }

    private var atCallLimit: Bool { active.count >= maxCallsInFlight }

    // MARK: Events

    /// A frame arrived: what to do with it, or nil when it waits (or needs nothing).
    mutating func received(_ inbound: TTRPCInboundFrame) -> Action? {
        if atCallLimit || !waiting.isEmpty {
            waiting.append(inbound)
            return nil
        }
        return handle(inbound)
    }

    /// A call's handler returned, or its deadline passed: the first of the two
    /// finishes the stream, the second finds it gone (nil). Frames that
    /// waited for a free call go on through `nextWaiting`.
    mutating func callEnded(streamID: UInt32, result: Result<[UInt8], TTRPCError>) -> Action? {
        guard active.remove(streamID) != nil else { return nil }
        switch result {
        case .success(let payload) where payload.count > TTRPCFrame.maxDataLength - 16:
            return .finish(
                streamID: streamID,
                response: TTRPCResponse(
                    error: TTRPCError(
                        .resourceExhausted,
                        "response of \(payload.count) bytes exceeds maximum message size of \(TTRPCFrame.maxDataLength)"
                    )))
        case .success(let payload):
            return .finish(streamID: streamID, response: TTRPCResponse(payload: payload))
        case .failure(let error):
            return .finish(streamID: streamID, response: TTRPCResponse(error: error))
        }
    }

    /// The next waiting frame's action, while calls are below the limit;
    /// nil when none may go on. Asked until nil after every call that ends.
    mutating func nextWaiting() -> Action? {
        while !atCallLimit, let inbound = waiting.popFirst() {
            if let action = handle(inbound) { return action }
        }
        return nil
    }

    /// The channel asks to read: true to read now, false to hold it back.
    mutating func readRequested(channelWritable: Bool) -> Bool {
        if mayRead(channelWritable: channelWritable) { return true }
        readHeldBack = true
        return false
    }

    /// After a call ended or the channel became writable: true when a read
    /// held back may go on now.
    mutating func releaseHeldRead(channelWritable: Bool) -> Bool {
        guard readHeldBack, mayRead(channelWritable: channelWritable) else { return false }
        readHeldBack = false
        return true
    }

    /// The connection closed: its calls are abandoned, waiting frames dropped.
    mutating func closed() {
        waiting.removeAll()
        active.removeAll()
    }

    // MARK: Rules

    private func mayRead(channelWritable: Bool) -> Bool {
        channelWritable && !atCallLimit && waiting.isEmpty
    }

    private mutating func handle(_ inbound: TTRPCInboundFrame) -> Action? {
        switch inbound {
        case .oversizedStarted:
            return nil  // answered once its data has been read past
        case .oversized(let streamID, let length):
            return .reject(
                streamID: streamID,
                error: TTRPCError(
                    .resourceExhausted,
                    "message length \(length) exceeds maximum message size of \(TTRPCFrame.maxDataLength)"))
        case .frame(let frame):
            return handle(frame)
        }
    }

    private mutating func handle(_ frame: TTRPCFrame) -> Action {
        guard frame.streamID % 2 == 1 else {
            return .reject(
                streamID: frame.streamID,
                error: TTRPCError(.invalidArgument, "StreamID must be odd for client initiated streams"))
        }
        switch frame.type {
        case .request:
            return request(frame)
        case .data:
            guard active.remove(frame.streamID) != nil else {
                return .reject(
                    streamID: frame.streamID, error: TTRPCError(.invalidArgument, "StreamID is no longer active"))
            }
            return .finish(
                streamID: frame.streamID,
                response: TTRPCResponse(
                    error: TTRPCError(
                        .invalidArgument,
                        "data frames are not accepted on stream \(frame.streamID): every method of this server is unary"
                    )))
        case .response, nil:
            return .ignore(frame)
        }
    }

    private mutating func request(_ frame: TTRPCFrame) -> Action {
        let streamID = frame.streamID
        guard streamID > lastStreamID else {
            return .reject(
                streamID: streamID, error: TTRPCError(.invalidArgument, "StreamID cannot be re-used and must increment")
            )
        }
        lastStreamID = streamID
        let request: TTRPCRequest
        let method: TTRPCMethodEntry
        do {
            switch try TTRPCRequest.decode(frame.data, in: services, scratch: scratch) {
            case .failure(let error): return .reject(streamID: streamID, error: error)
            case .success(let found): (request, method) = found
            }
        } catch {
            return .reject(streamID: streamID, error: TTRPCError(.invalidArgument, "unmarshal request error: \(error)"))
        }
        guard filter.allows(method: request.method) else {
            return .reject(
                streamID: streamID,
                error: TTRPCError(
                    .permissionDenied,
                    "method \(request.method) is not allowed on listener \(listenerName)"))
        }
        active.insert(streamID)
        return .start(streamID: streamID, request: request, method: method)
    }
}
