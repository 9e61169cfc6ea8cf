import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import TTRPC

/// The connection handler's answers to protocol violations, without sockets.
@Suite struct ServerConnectionHandlerTests {
    private let channels = EmbeddedChannels()

    private func channel(filter: TTRPCMethodFilter = .allowAll, maxCalls: Int = 8) throws -> EmbeddedChannel {
        var services = TTRPCServiceSet()
        services.register(service: "svc", method: "Echo") { _, payload in payload }
        services.register(service: "svc", method: "Secret") { _, payload in payload }
        let handler = TTRPCServerConnectionHandler(
            services: services, filter: filter, listenerName: "test", tracker: CallTracker(),
            maxCallsInFlight: maxCalls, logger: Logger(label: "test"))
        let channel = channels.make()
        try channel.pipeline.syncOperations.addHandler(handler)
        return channel
    }

    private func send(_ channel: EmbeddedChannel, _ frame: TTRPCFrame) throws -> (UInt32, TTRPCError?)? {
        try channel.writeInbound(TTRPCInboundFrame.frame(frame))
        guard let out = try Self.readFrame(channel) else { return nil }
        #expect(out.type == .response)
        let response = try TTRPCResponse(protobufBytes: out.data)
        if case .failure(let error) = response.result() { return (out.streamID, error) }
        return (out.streamID, nil)
    }

    /// The next frame the handler wrote, read back by the frame decoder.
    private static func readFrame(_ channel: EmbeddedChannel) throws -> TTRPCFrame? {
        guard var bytes = try channel.readOutbound(as: ByteBuffer.self) else { return nil }
        var decoder = TTRPCFrameDecoder()
        guard case .frame(let frame) = try decoder.decode(buffer: &bytes) else { return nil }
        #expect(bytes.readableBytes == 0, "one frame per write")
        return frame
    }

    private func request(_ method: String, service: String = "svc") -> [UInt8] {
        TTRPCRequest(service: service, method: method, payload: []).protobufBytes()
    }

    @Test func evenStreamIDIsInvalidArgument() throws {
        let answer = try send(try channel(), TTRPCFrame(streamID: 2, type: .request, data: request("Echo")))
        #expect(answer?.0 == 2)
        #expect(answer?.1 == TTRPCError(.invalidArgument, "StreamID must be odd for client initiated streams"))
    }

    @Test func unknownServiceAndMethodAreUnimplemented() throws {
        let c = try channel()
        #expect(
            try send(c, TTRPCFrame(streamID: 1, type: .request, data: request("Echo", service: "nope")))?.1
                == TTRPCError(.unimplemented, "service nope"))
        #expect(
            try send(c, TTRPCFrame(streamID: 3, type: .request, data: request("Nope")))?.1
                == TTRPCError(.unimplemented, "method Nope"))
    }

    @Test func malformedRequestIsInvalidArgument() throws {
        let answer = try send(try channel(), TTRPCFrame(streamID: 1, type: .request, data: [0x0A, 0x09, 0x01]))
        #expect(answer?.1?.code == .invalidArgument)
        #expect(answer?.1?.message.hasPrefix("unmarshal request error") == true)
    }

    @Test func reusedStreamIDIsInvalidArgument() throws {
        let c = try channel()
        #expect(try send(c, TTRPCFrame(streamID: 5, type: .request, data: request("Nope")))?.1?.code == .unimplemented)
        #expect(
            try send(c, TTRPCFrame(streamID: 3, type: .request, data: request("Echo")))?.1
                == TTRPCError(.invalidArgument, "StreamID cannot be re-used and must increment"))
    }

    @Test func dataFrameForAStreamNotOpenIsInvalidArgument() throws {
        let answer = try send(try channel(), TTRPCFrame(streamID: 9, type: .data, data: [1]))
        #expect(answer?.0 == 9)
        #expect(answer?.1 == TTRPCError(.invalidArgument, "StreamID is no longer active"))
    }

    @Test func oversizedFrameIsResourceExhausted() throws {
        let c = try channel()
        try c.writeInbound(TTRPCInboundFrame.oversized(streamID: 11, length: 5_000_000))
        let out = try #require(try Self.readFrame(c))
        #expect(out.streamID == 11)
        let error = try TTRPCResponse(protobufBytes: out.data).result()
        #expect(
            error
                == .failure(
                    TTRPCError(.resourceExhausted, "message length 5000000 exceeds maximum message size of 4194304")))
    }

    @Test func methodOutsideTheListenersAllowlistIsPermissionDenied() throws {
        let c = try channel(filter: TTRPCMethodFilter(allowedMethods: ["Echo"]))
        let answer = try send(c, TTRPCFrame(streamID: 1, type: .request, data: request("Secret")))
        #expect(answer?.1 == TTRPCError(.permissionDenied, "method Secret is not allowed on listener test"))
    }

    @Test func unknownFrameTypesAndResponsesAreIgnored() throws {
        let c = try channel()
        #expect(try send(c, TTRPCFrame(streamID: 1, typeByte: 9, data: [1])) == nil)
        #expect(try send(c, TTRPCFrame(streamID: 3, type: .response, data: [])) == nil)
    }
}
