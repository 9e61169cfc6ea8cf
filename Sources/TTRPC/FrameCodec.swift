import NIOCore

/// Splits the byte stream into ttrpc frames. A frame whose declared length is
/// over 4 MiB has its data skipped as it arrives (never buffered), then is
/// reported as `.oversized` so that the connection can answer and go on.
/// A frame that has begun must be complete within `frameTimeout`, or the
/// connection is closed: a client that sends a header and stalls, or one
/// byte a second, holds no buffer for long.
public struct TTRPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = TTRPCInboundFrame

    private var skipping: (streamID: UInt32, length: UInt32, remaining: Int)?
    private let frameTimeout: TimeAmount?
    private var stalledFrame: Scheduled<Void>?

    /// `frameTimeout` nil: wait for a frame's rest as long as it takes.
    public init(frameTimeout: TimeAmount? = nil) {
        self.frameTimeout = frameTimeout
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let state = try decodeFrame(context: context, buffer: &buffer)
        // A finished frame is progress: the clock restarts for the next one.
        watchForStall(context: context, partial: state == .needMoreData && (buffer.readableBytes > 0 || skipping != nil))
        return state
    }

    public mutating func decoderRemoved(context: ChannelHandlerContext) {
        stalledFrame?.cancel()
        stalledFrame = nil
    }

    /// Starts the clock when a frame is left incomplete, stops it otherwise.
    private mutating func watchForStall(context: ChannelHandlerContext, partial: Bool) {
        guard partial else {
            stalledFrame?.cancel()
            stalledFrame = nil
            return
        }
        guard let frameTimeout, stalledFrame == nil else { return }
        let channel = context.channel
        stalledFrame = context.eventLoop.scheduleTask(in: frameTimeout) {
            channel.close(promise: nil)
        }
    }

    private mutating func decodeFrame(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let skip = skipping {
            let count = min(skip.remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: count)
            if count < skip.remaining {
                skipping = (skip.streamID, skip.length, skip.remaining - count)
                return .needMoreData
            }
            skipping = nil
            context.fireChannelRead(wrapInboundOut(.oversized(streamID: skip.streamID, length: skip.length)))
            return .continue
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              let streamID = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self),
              let typeByte = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt8.self),
              let flags = buffer.getInteger(at: buffer.readerIndex + 9, as: UInt8.self)
        else { return .needMoreData }

        if length > UInt32(TTRPCFrame.maxDataLength) {
            buffer.moveReaderIndex(forwardBy: TTRPCFrame.headerLength)
            skipping = (streamID, length, Int(length))
            return .continue
        }
        guard buffer.readableBytes >= TTRPCFrame.headerLength + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: TTRPCFrame.headerLength)
        let data = buffer.readBytes(length: Int(length)) ?? []
        let frame = TTRPCFrame(streamID: streamID, typeByte: typeByte, flags: .init(rawValue: flags), data: data)
        context.fireChannelRead(wrapInboundOut(.frame(frame)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at end of input is dropped: its sender has gone.
        while try decodeFrame(context: context, buffer: &buffer) == .continue {}
        stalledFrame?.cancel()
        stalledFrame = nil
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// Writes frames with their 10-byte header.
public struct TTRPCFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = TTRPCFrame

    public init() {}

    public func encode(data frame: TTRPCFrame, out: inout ByteBuffer) throws {
        out.reserveCapacity(TTRPCFrame.headerLength + frame.data.count)
        out.writeInteger(UInt32(frame.data.count))
        out.writeInteger(frame.streamID)
        out.writeInteger(frame.typeByte)
        out.writeInteger(frame.flags.rawValue)
        out.writeBytes(frame.data)
    }
}
