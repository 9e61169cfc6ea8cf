import NIOCore

/// Splits the byte stream into ttrpc frames. A frame whose declared length is
/// over 4 MiB has its data skipped as it arrives (never buffered), then is
/// reported as `.oversized` so that the connection can answer and go on.
public struct TTRPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = TTRPCInboundFrame

    private var skipping: (streamID: UInt32, length: UInt32, remaining: Int)?

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
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
        while try decode(context: context, buffer: &buffer) == .continue {}
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
