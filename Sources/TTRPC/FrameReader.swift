import NIOCore

/// The frame decoder on a connection, with the one rule that needs a clock:
/// a frame that has begun must be complete within `frameTimeout`, or the
/// connection is closed, so that a client that sends a header and stalls, or
/// one byte a second, holds no buffer for long. An idle connection with no
/// frame begun is kept.
public final class TTRPCFrameReader: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = TTRPCInboundFrame

    private let processor = NIOSingleStepByteToMessageProcessor(TTRPCFrameDecoder())
    private let frameTimeout: TimeAmount?
    private var stalledFrame: Scheduled<Void>?
    /// Between an oversized frame's header and the end of its data.
    private var skipping = false

    /// `frameTimeout` nil: wait for a frame's rest as long as it takes.
    public init(frameTimeout: TimeAmount?) {
        self.frameTimeout = frameTimeout
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try processor.process(buffer: unwrapInboundIn(data)) { forward($0, context: context) }
        } catch {
            context.fireErrorCaught(error)
        }
        if skipping || processor.unprocessedBytes > 0 { startClock(context: context) }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        try? processor.finishProcessing(seenEOF: true) { forward($0, context: context) }
        stopClock()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopClock()
    }

    private func forward(_ frame: TTRPCInboundFrame, context: ChannelHandlerContext) {
        // A finished frame is progress: the clock restarts for the next one.
        switch frame {
        case .oversizedStarted: skipping = true
        case .oversized:
            skipping = false
            stopClock()
        case .frame: stopClock()
        }
        context.fireChannelRead(wrapInboundOut(frame))
    }

    /// Starts the clock for a frame left incomplete, unless it runs already.
    private func startClock(context: ChannelHandlerContext) {
        guard let frameTimeout, stalledFrame == nil else { return }
        let channel = context.channel
        stalledFrame = context.eventLoop.scheduleTask(in: frameTimeout) {
            channel.close(promise: nil)
        }
    }

    private func stopClock() {
        stalledFrame?.cancel()
        stalledFrame = nil
    }
}
