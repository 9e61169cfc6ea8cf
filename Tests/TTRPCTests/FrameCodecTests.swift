import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import TTRPC

@Suite struct FrameCodecTests {
    private let channels = EmbeddedChannels()

    private func decoderChannel() throws -> EmbeddedChannel {
        let channel = channels.make()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(TTRPCFrameDecoder()))
        return channel
    }

    private func header(length: UInt32, stream: UInt32, type: UInt8, flags: UInt8 = 0) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        buffer.writeInteger(stream)
        buffer.writeInteger(type)
        buffer.writeInteger(flags)
        return Array(buffer.readableBytesView)
    }

    @Test func encoderWritesTheTenByteHeader() throws {
        let channel = channels.make()
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(TTRPCFrameEncoder()))
        try channel.writeOutbound(
            TTRPCFrame(streamID: 0x0102_0304, type: .response, flags: .remoteClosed, data: [0xAA, 0xBB]))
        let out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(out.readableBytesView) == [0, 0, 0, 2, 1, 2, 3, 4, 2, 1, 0xAA, 0xBB])
    }

    @Test func decodesFramesSplitAtEveryByte() throws {
        let channel = try decoderChannel()
        let bytes = header(length: 3, stream: 1, type: 1) + [7, 8, 9] + header(length: 0, stream: 3, type: 3, flags: 5)
        for byte in bytes {
            var buffer = channel.allocator.buffer(capacity: 1)
            buffer.writeInteger(byte)
            try channel.writeInbound(buffer)
        }
        #expect(
            try channel.readInbound(as: TTRPCInboundFrame.self)
                == .frame(TTRPCFrame(streamID: 1, type: .request, data: [7, 8, 9])))
        #expect(
            try channel.readInbound(as: TTRPCInboundFrame.self)
                == .frame(TTRPCFrame(streamID: 3, type: .data, flags: [.remoteClosed, .noData], data: [])))
        #expect(try channel.readInbound(as: TTRPCInboundFrame.self) == nil)
    }

    @Test func oversizedFrameIsSkippedThenReported() throws {
        let channel = try decoderChannel()
        let length = UInt32(TTRPCFrame.maxDataLength + 1)
        var buffer = channel.allocator.buffer(bytes: header(length: length, stream: 5, type: 1))
        try channel.writeInbound(buffer)
        #expect(try channel.readInbound(as: TTRPCInboundFrame.self) == .oversizedStarted(streamID: 5, length: length))
        // The data arrives in pieces and is never held whole.
        let piece = [UInt8](repeating: 0x41, count: 1 << 20)
        for _ in 0..<4 {
            buffer = channel.allocator.buffer(bytes: piece)
            try channel.writeInbound(buffer)
            #expect(try channel.readInbound(as: TTRPCInboundFrame.self) == nil)
        }
        buffer = channel.allocator.buffer(bytes: [0x41] + header(length: 1, stream: 7, type: 1) + [0x0A])
        try channel.writeInbound(buffer)
        #expect(try channel.readInbound(as: TTRPCInboundFrame.self) == .oversized(streamID: 5, length: length))
        #expect(
            try channel.readInbound(as: TTRPCInboundFrame.self)
                == .frame(TTRPCFrame(streamID: 7, type: .request, data: [0x0A])))
    }

    /// NIO's verifier feeds the bytes whole, byte by byte and in random
    /// pieces, and checks the frames are the same each time and nothing is
    /// left over.
    @Test func theDecoderPassesNIOsVerifier() throws {
        let first = header(length: 3, stream: 1, type: 1) + [7, 8, 9]
        let empty = header(length: 0, stream: 3, type: 3, flags: 5)
        let unknownType = header(length: 1, stream: 5, type: 9, flags: 0xFF) + [0]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (ByteBuffer(bytes: first), [.frame(TTRPCFrame(streamID: 1, type: .request, data: [7, 8, 9]))]),
                (
                    ByteBuffer(bytes: empty + unknownType),
                    [
                        .frame(TTRPCFrame(streamID: 3, type: .data, flags: [.remoteClosed, .noData], data: [])),
                        .frame(TTRPCFrame(streamID: 5, typeByte: 9, flags: .init(rawValue: 0xFF), data: [0])),
                    ]
                ),
            ],
            decoderFactory: { TTRPCFrameDecoder() })
    }

    @Test func aConnectionEndsCleanWithAFrameCutShort() throws {
        let channel = try decoderChannel()
        try channel.writeInbound(
            ByteBuffer(bytes: header(length: 1, stream: 1, type: 1) + [1] + header(length: 9, stream: 3, type: 1)))
        #expect(
            try channel.readInbound(as: TTRPCInboundFrame.self)
                == .frame(TTRPCFrame(streamID: 1, type: .request, data: [1])))
        // The cut frame is dropped with its sender: nothing is left over.
        #expect(try channel.finish().isClean)
    }

    @Test func exactlyFourMiBIsAccepted() throws {
        let channel = try decoderChannel()
        let data = [UInt8](repeating: 1, count: TTRPCFrame.maxDataLength)
        try channel.writeInbound(
            channel.allocator.buffer(bytes: header(length: UInt32(data.count), stream: 1, type: 1) + data))
        guard case .frame(let frame) = try channel.readInbound(as: TTRPCInboundFrame.self) else {
            Issue.record("no frame")
            return
        }
        #expect(frame.data.readableBytes == TTRPCFrame.maxDataLength)
    }

    // MARK: A frame that starts and stalls (virtual time on EmbeddedEventLoop)

    private func timedDecoderChannel() throws -> EmbeddedChannel {
        let channel = channels.make()
        try channel.pipeline.syncOperations.addHandler(TTRPCFrameReader(frameTimeout: .seconds(10)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func write(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    @Test func aHeaderThatStallsClosesTheConnectionAtTheDeadline() throws {
        let channel = try timedDecoderChannel()
        try write(channel, header(length: 4, stream: 1, type: 1))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(9_999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "closed ten seconds after the frame began")
    }

    @Test func eachCompletedFrameRestartsTheClock() throws {
        let channel = try timedDecoderChannel()
        let frame = header(length: 2, stream: 1, type: 1) + [7, 7]
        // Every write ends mid-frame, a frame completes every 6 s: 60 s in all.
        try write(channel, Array(frame.prefix(5)))
        for _ in 0..<10 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(6))
            try write(channel, Array(frame.suffix(from: 5)) + Array(frame.prefix(5)))
            #expect(try channel.readInbound(as: TTRPCInboundFrame.self) != nil)
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive, "then it stalls")
    }

    @Test func anIdleConnectionWithNoFrameBegunIsKept() throws {
        let channel = try timedDecoderChannel()
        try write(channel, header(length: 1, stream: 1, type: 1) + [0])
        channel.embeddedEventLoop.advanceTime(by: .seconds(3600))
        #expect(channel.isActive)
    }

    @Test func aSlowOversizedFrameIsCutToo() throws {
        let channel = try timedDecoderChannel()
        try write(channel, header(length: UInt32(TTRPCFrame.maxDataLength + 1), stream: 1, type: 1) + [0, 0])
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }
}
