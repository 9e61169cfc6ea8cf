import NIOCore

/// Splits a byte stream into ttrpc frames: bytes in, frames out, no clock and
/// no channel. A frame whose declared length is over 4 MiB is announced when
/// its header arrives, its data is read past as it comes (never buffered),
/// and it is reported again once skipped, so that the connection can answer
/// and go on. The output is the same however the bytes are split.
public struct TTRPCFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = TTRPCInboundFrame

    private var skipping: (streamID: UInt32, length: UInt32, remaining: Int)?

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> TTRPCInboundFrame? {
        if let skip = skipping {
            let count = min(skip.remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: count)
            guard count == skip.remaining else {
                skipping = (skip.streamID, skip.length, skip.remaining - count)
                return nil
            }
            skipping = nil
            return .oversized(streamID: skip.streamID, length: skip.length)
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let streamID = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self),
            let typeByte = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt8.self),
            let flags = buffer.getInteger(at: buffer.readerIndex + 9, as: UInt8.self)
        else { return nil }

        if length > UInt32(TTRPCFrame.maxDataLength) {
            buffer.moveReaderIndex(forwardBy: TTRPCFrame.headerLength)
            skipping = (streamID, length, Int(length))
            return .oversizedStarted(streamID: streamID, length: length)
        }
        guard buffer.readableBytes >= TTRPCFrame.headerLength + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: TTRPCFrame.headerLength)
        // A slice, not a copy: the request is decoded from the bytes as read.
        guard let data = buffer.readSlice(length: Int(length)) else { return nil }
        return .frame(TTRPCFrame(streamID: streamID, typeByte: typeByte, flags: .init(rawValue: flags), data: data))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> TTRPCInboundFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        // A partial frame at end of input is dropped: its sender has gone.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return nil
    }
}

/// Writes frames with their 10-byte header.
public struct TTRPCFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = TTRPCFrame

    public init() {}

    public func encode(data frame: TTRPCFrame, out: inout ByteBuffer) throws {
        out.reserveCapacity(TTRPCFrame.headerLength + frame.data.readableBytes)
        out.writeInteger(UInt32(frame.data.readableBytes))
        out.writeInteger(frame.streamID)
        out.writeInteger(frame.typeByte)
        out.writeInteger(frame.flags.rawValue)
        out.writeImmutableBuffer(frame.data)
    }
}
