import Logging
import NIOCore
import NIOPosix
import Testing

@testable import TTRPC

#if canImport(Glibc)
import Glibc
#endif

/// The server's limits against clients that stall or crowd in, on a real
/// Unix socket with short limits. The frame deadline's timing rules are
/// tested on virtual time in FrameCodecTests.
@Suite struct ServerLimitsTests {
    /// A raw client socket, to send exactly what a misbehaving peer sends.
    final class RawSocket {
        let fd: Int32

        init(_ path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard UnixSocketAddress.with(path, { connect(fd, $0, $1) }) == 0 else {
                throw TTRPCTransportError("cannot connect to \(path)")
            }
            // Non-blocking: the tests wait with Task.sleep, never holding a thread of the shared pool.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// True when the server closed the connection within 30 s (whatever
        /// it answered before is read and dropped). Generous: other suites
        /// may hold this process's threads; the timing itself is tested on
        /// virtual time in FrameCodecTests.
        func closedByServer() async -> Bool {
            await outcome(answers: Int.max) == .closed
        }

        enum Outcome { case answered, closed, nothing }

        /// Waits up to 30 s for `answers` whole frames, or for the server to close.
        func outcome(answers: Int) async -> Outcome {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var received: [UInt8] = []
            let end = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < end {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return .closed }
                if count > 0 {
                    received += buffer[0..<count]
                    if Self.frames(in: received) >= answers { return .answered }
                } else {
                    try? await Task.sleep(nanoseconds: 10_000_000)
                }
            }
            return .nothing
        }

        /// Whole frames at the start of `bytes`.
        static func frames(in bytes: [UInt8]) -> Int {
            var count = 0
            var offset = 0
            while offset + 10 <= bytes.count {
                let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
                guard offset + 10 + length <= bytes.count else { break }
                offset += 10 + length
                count += 1
            }
            return count
        }

        /// An Echo request frame for stream `id`.
        static func echo(_ id: UInt32) -> [UInt8] {
            let data = TTRPCRequest(service: "svc", method: "Echo", payload: [7]).protobufBytes()
            func be(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
            return be(UInt32(data.count)) + be(id) + [1, 0] + data
        }
    }

    private func withServer(
        maxConnections: Int = 128, frameTimeout: TimeAmount = .milliseconds(300),
        _ body: (String) async throws -> Void
    ) async throws {
        let path = "/tmp/ttrpc-limits-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        var services = TTRPCServiceSet()
        services.register(service: "svc", method: "Echo") { _, payload in payload }
        services.register(service: "svc", method: "Hold") { _, payload in
            try await Task.sleep(for: .seconds(30))
            return payload
        }
        let server = TTRPCServer(
            services: services, group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test"), frameTimeout: frameTimeout)
        try await server.listen(TTRPCListenerConfig(address: .unix(path: path), maxConnections: maxConnections))
        do { try await body(path) } catch {
            await server.shutdown(gracePeriod: .zero)
            throw error
        }
        await server.shutdown(gracePeriod: .zero)
    }

    @Test func aHeaderThenSilenceIsDisconnected() async throws {
        try await withServer { path in
            let stalled = try RawSocket(path)
            stalled.send(Array(RawSocket.echo(1).prefix(10)))
            #expect(await stalled.closedByServer())
            // Others are served meanwhile and after.
            let client = try await TTRPCClient.connect(to: .unix(path: path))
            #expect(try await client.call(service: "svc", method: "Echo", payload: [1]) == [1])
            await client.close()
        }
    }

    /// At its limit a listener closes the connection idle longest to take a
    /// new one, so that idle connections cannot lock the real callers out.
    @Test func idleConnectionsMakeRoomForANewOne() async throws {
        try await withServer(maxConnections: 3) { path in
            var idle: [RawSocket] = []
            for _ in 0..<3 {
                idle.append(try RawSocket(path))
                try await Task.sleep(for: .milliseconds(20))  // an order of idleness
            }
            let client = try await TTRPCClient.connect(to: .unix(path: path))
            #expect(try await client.call(service: "svc", method: "Echo", payload: [5]) == [5])
            #expect(await idle[0].closedByServer(), "the one idle longest made room")
            idle[2].send(RawSocket.echo(1))
            #expect(await idle[2].outcome(answers: 1) == .answered, "the others are still served")
            await client.close()
        }
    }

    /// A connection that has made calls (the confidential-data-hub's, held
    /// for the pod's life) is kept over one that never did, even if older.
    @Test func aConnectionThatCalledOutlivesIdleOnes() async throws {
        try await withServer(maxConnections: 2) { path in
            let caller = try await TTRPCClient.connect(to: .unix(path: path))
            #expect(try await caller.call(service: "svc", method: "Echo", payload: [1]) == [1])
            let silent = try RawSocket(path)
            try await Task.sleep(for: .milliseconds(20))
            let newcomer = try await TTRPCClient.connect(to: .unix(path: path))
            #expect(try await newcomer.call(service: "svc", method: "Echo", payload: [2]) == [2])
            #expect(await silent.closedByServer())
            #expect(try await caller.call(service: "svc", method: "Echo", payload: [3]) == [3])
            await caller.close()
            await newcomer.close()
        }
    }

    /// Only when every connection is running a call is the newcomer refused.
    @Test func whenEveryConnectionIsBusyTheNewcomerIsRefused() async throws {
        try await withServer(maxConnections: 2) { path in
            let busy = try (0..<2).map { _ in try RawSocket(path) }
            let hold = TTRPCRequest(service: "svc", method: "Hold", payload: [1]).protobufBytes()
            func be(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
            for socket in busy { socket.send(be(UInt32(hold.count)) + be(1) + [1, 0] + hold) }
            try await Task.sleep(for: .milliseconds(300))
            let refused = try RawSocket(path)
            refused.send(RawSocket.echo(1))
            #expect(await refused.outcome(answers: 1) == .closed)
        }
    }
}
