import Configuration
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import HTTPClient

/// The token client's HTTP/1.1 against a server on loopback that answers
/// with fixed bytes, written by hand from RFC 9112, so that each way an
/// answer can end is seen exactly as a peer would send it.
@Suite struct HTTPExchangeTests {
    /// Its own loop: other suites running at once may keep the singleton's loops busy.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// A TCP server that reads the request head, then writes `reply` and
    /// closes (or, with `reply` nil, says nothing and keeps the connection).
    final class RawServer: @unchecked Sendable {
        let channel: Channel
        var port: Int { channel.localAddress!.port! }

        init(reply: [UInt8]?) async throws {
            channel = try await ServerBootstrap(group: HTTPExchangeTests.group)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(Replier(reply: reply))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        deinit { channel.close(promise: nil) }

        private final class Replier: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let reply: [UInt8]?
            var received: [UInt8] = []
            var answered = false
            init(reply: [UInt8]?) { self.reply = reply }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                received += unwrapInboundIn(data).readableBytesView
                guard !answered, received.count >= 4, String(decoding: received, as: UTF8.self).contains("\r\n\r\n")
                else { return }
                answered = true
                guard let reply else { return }
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
                context.flush()
                context.close(promise: nil)
            }
        }
    }

    /// The deadline is generous: the test's own task may wait long for a
    /// thread while other suites keep the cooperative pool busy.
    static func send(_ server: RawServer, limit: Int = 1 << 20, seconds: Int64 = 60) async throws -> HTTPExchange.Answer
    {
        let url = try #require(ServiceURL("http://127.0.0.1:\(server.port)/base/"))
        return try await HTTPExchange.send(
            .POST, "/kbs/v0/auth", to: url, headers: [("Content-Type", "application/json")],
            body: Array("{}".utf8), tls: nil, deadline: .now() + .seconds(seconds),
            maxAnswerSize: limit, group: group)
    }

    @Test func contentLengthAndChunkedBodiesAndInformationalHeads() async throws {
        let plain = try await RawServer(
            reply: Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=b\r\n\r\nhello".utf8))
        let answer = try await Self.send(plain)
        #expect(answer.status == .ok)
        #expect(answer.headers["set-cookie"] == ["a=b"])
        #expect(answer.body == Array("hello".utf8))

        let chunked = try await RawServer(
            reply: Array(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
                    .utf8))
        let refused = try await Self.send(chunked)
        #expect(refused.status == .unauthorized)
        #expect(refused.body == Array("abcdefg".utf8))

        let untilClose = try await RawServer(
            reply: Array("HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\n\r\nmoved".utf8))
        let redirect = try await Self.send(untilClose)
        #expect(redirect.status == .found, "a redirect is the answer, not followed")
        #expect(redirect.body == Array("moved".utf8))
    }

    @Test func anAnswerOverTheLimitIsRefused() async throws {
        let big = try await RawServer(
            reply: Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 100))
        await #expect(throws: HTTPExchange.Failure.tooLarge(limit: 99)) { try await Self.send(big, limit: 99) }
        #expect(try await Self.send(big, limit: 100).body.count == 100)
    }

    @Test func aConnectionClosedMidAnswerOrSilentUntilTheDeadline() async throws {
        let cut = try await RawServer(reply: Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        await #expect(throws: HTTPExchange.Failure.closedEarly) { try await Self.send(cut) }
        let silent = try await RawServer(reply: nil)
        await #expect(throws: HTTPExchange.Failure.timedOut) { try await Self.send(silent, seconds: 1) }
    }

    @Test func theRequestIsWhatAKBSExpects() async throws {
        // A server that echoes the request it received as its body.
        let recorder = try await ServerBootstrap(group: Self.group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { recorder.close(promise: nil) }
        let url = try #require(ServiceURL("http://127.0.0.1:\(recorder.localAddress!.port!)/prefix"))
        let answer = try await HTTPExchange.send(
            .POST, "/kbs/v0/attest", to: url, headers: [("Cookie", "kbs-session-id=1")],
            body: Array("{\"a\":1}".utf8), tls: nil, deadline: .now() + .seconds(60),
            maxAnswerSize: 1 << 20, group: Self.group)
        let lines = String(decoding: answer.body, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.first == "POST /prefix/kbs/v0/attest")
        #expect(lines.contains("host: 127.0.0.1:\(recorder.localAddress!.port!)"))
        #expect(lines.contains("cookie: kbs-session-id=1"))
        #expect(lines.contains("content-length: 7"))
        #expect(lines.last == "body: {\"a\":1}")
    }

    private final class Echo: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var text = ""
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                text =
                    "\(head.method) \(head.uri)\n"
                    + head.headers.map { "\($0.name.lowercased()): \($0.value)" }.joined(separator: "\n")
            case .body(let buffer):
                text += "\nbody: " + String(buffer: buffer)
            case .end:
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Length", value: String(text.utf8.count))
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    @Test func addressesAreToldFromNames() throws {
        #expect(try #require(ServiceURL("https://10.1.2.3")).hostIsAddress)
        #expect(try #require(ServiceURL("https://[fd00::1]")).hostIsAddress)
        #expect(try !#require(ServiceURL("https://kbs.local")).hostIsAddress)
    }
}
