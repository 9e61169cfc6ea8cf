import Logging
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import TTRPC

#if canImport(Glibc)
import Glibc
#endif

/// A real server and client on a real Unix socket.
@Suite struct ServerClientTests {
    private static func services(gate: Gate = Gate()) -> TTRPCServiceSet {
        var services = TTRPCServiceSet()
        // Answers only once Release has been called.
        services.register(service: "svc", method: "Hold") { _, payload in
            await gate.wait()
            return payload
        }
        services.register(service: "svc", method: "Release") { _, payload in
            await gate.open()
            return payload
        }
        services.register(service: "svc", method: "Echo") { _, payload in payload }
        // Sleeps for the number of milliseconds in its first payload byte * 10.
        services.register(service: "svc", method: "Sleep") { _, payload in
            try await Task.sleep(nanoseconds: UInt64(payload.first ?? 0) * 10_000_000)
            return payload
        }
        services.register(service: "svc", method: "Fail") { _, _ in throw TTRPCError(.notFound, "nothing here") }
        services.register(service: "svc", method: "Crash") { _, _ in throw Boom() }
        services.register(service: "svc", method: "Busy") { _, _ in throw Busy() }
        // Answer 1 when the handler runs on an event loop thread, else 0.
        let onALoop: @Sendable () -> [UInt8] = { [MultiThreadedEventLoopGroup.currentEventLoop == nil ? UInt8(0) : 1] }
        services.registerImmediate(service: "svc", method: "OnLoop") { _ in onALoop() }
        services.register(service: "svc", method: "OffLoop") { _, _ in onALoop() }
        // An immediate method that refuses with a status.
        services.registerImmediate(service: "svc", method: "NowFail") { _ in throw TTRPCError(.notFound, "not now") }
        return services
    }

    private func withServer(
        gate: Gate = Gate(), group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (SocketURI, TTRPCServer) async throws -> Void
    ) async throws {
        let path = "/tmp/ttrpc-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = TTRPCServer(services: Self.services(gate: gate), group: group, logger: Logger(label: "test"))
        let address = SocketURI.unix(path: path)
        try await server.listen(TTRPCListenerConfig(address: address))
        do {
            try await body(address, server)
        } catch {
            await server.shutdown(gracePeriod: .zero)
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1))
        #expect(access(path, F_OK) != 0, "the socket file is removed at shutdown")
    }

    @Test func unaryCallsAndErrors() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            #expect(try await client.call(service: "svc", method: "Echo", payload: [1, 2, 3]) == [1, 2, 3])
            await #expect(throws: TTRPCError(.notFound, "nothing here")) {
                try await client.call(service: "svc", method: "Fail", payload: [])
            }
            await #expect(throws: TTRPCError(.internal, "Boom()")) {
                try await client.call(service: "svc", method: "Crash", payload: [])
            }
            // An error that chose its status keeps it on the wire.
            await #expect(throws: TTRPCError(.unavailable, "the device is busy")) {
                try await client.call(service: "svc", method: "Busy", payload: [])
            }
            // The connection is still good after errors.
            #expect(try await client.call(service: "svc", method: "Echo", payload: [9]) == [9])
            await client.close()
        }
    }

    @Test func handlersRunWhereTheirPlacementSays() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            for _ in 0..<20 {
                #expect(try await client.call(service: "svc", method: "OnLoop", payload: []) == [1])
                #expect(
                    try await client.call(service: "svc", method: "OffLoop", payload: []) == [0],
                    "off the loop by default")
            }
            await #expect(throws: TTRPCError(.notFound, "not now")) {
                try await client.call(service: "svc", method: "NowFail", payload: [])
            }
            await client.close()
        }
    }

    @Test func responsesComeBackInAnyOrder() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            async let held = client.call(service: "svc", method: "Hold", payload: [1])
            // Sent after Hold, answered while Hold still waits.
            #expect(try await client.call(service: "svc", method: "Echo", payload: [2]) == [2])
            _ = try await client.call(service: "svc", method: "Release", payload: [])
            #expect(try await held == [1])
            await client.close()
        }
    }

    @Test func hundredConcurrentCallsOnOneConnection() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for index in 0..<100 {
                    group.addTask {
                        (index, try await client.call(service: "svc", method: "Echo", payload: [UInt8(index), 7]))
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 100)
            #expect(results.allSatisfy { $0.value == [UInt8($0.key), 7] })
            await client.close()
        }
    }

    @Test func deadlineExceededWhenTheHandlerIsTooSlow() async throws {
        try await withServer { address, server in
            let client = try await TTRPCClient.connect(to: address)
            do {
                _ = try await client.call(service: "svc", method: "Sleep", payload: [100], timeout: .milliseconds(50))
                Issue.record("a 1 s call finished within 50 ms")
            } catch let error as TTRPCError {
                #expect(error.code == .deadlineExceeded)
                #expect(error.message.contains("did not finish"), "the server's answer, not the client's own timer")
            }
            #expect(server.callsInFlight == 0)
            await client.close()
        }
    }

    /// One connection, deadlines far apart: a short one that comes after a
    /// long one still ends on time (the connection's one timer is brought
    /// forward), and one that comes after the timer fired is kept too.
    @Test func eachCallEndsAtItsOwnDeadline() async throws {
        // Loops of its own: other suites may keep the shared ones busy for seconds.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await withServer(group: group) { address, server in
            let client = try await TTRPCClient.connect(to: address, group: group)
            let clock = ContinuousClock()
            async let slowButInTime = client.call(
                service: "svc", method: "Sleep", payload: [30], timeout: .seconds(600))
            try await Task.sleep(for: .milliseconds(20))
            for round in 0..<2 {
                let started = clock.now
                do {
                    _ = try await client.call(
                        service: "svc", method: "Sleep", payload: [200], timeout: .milliseconds(50))
                    Issue.record("round \(round): a 2 s call finished within 50 ms")
                } catch let error as TTRPCError {
                    #expect(error.code == .deadlineExceeded, "round \(round)")
                    #expect(error.message.contains("did not finish"), "the server's answer, not the client's timer")
                }
                // Far below the long call's 600 s, far above 50 ms: a sanitized
                // test process on two busy cores can be held off for many seconds.
                #expect(
                    clock.now - started < .seconds(20 * TestBudget.timeScale),
                    "round \(round) waited for another call's deadline")
            }
            #expect(try await slowButInTime == [30])
            #expect(server.callsInFlight == 0)
            await client.close()
        }
        try await group.shutdownGracefully()
    }

    /// The lifecycle, not started -> running -> stopping -> stopped and
    /// never back, around a call held through the shutdown.
    @Test func shutdownLetsACallInFlightFinish() async throws {
        let path = "/tmp/ttrpc-test-drain-\(getpid()).sock"
        let gate = Gate()
        let server = TTRPCServer(
            services: Self.services(gate: gate), group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test"))
        #expect(server.lifecycle == .notStarted)
        try await server.listen(TTRPCListenerConfig(address: .unix(path: path)))
        #expect(server.lifecycle == .running)
        let client = try await TTRPCClient.connect(to: .unix(path: path))
        async let answer = client.call(service: "svc", method: "Hold", payload: [30])
        for _ in 0..<2000 where server.callsInFlight == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(server.callsInFlight == 1)
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(30)) }
        // No new connections while the call is still held.
        var refused = false
        for _ in 0..<2000 where !refused {
            refused = (try? await TTRPCClient.connect(to: .unix(path: path))) == nil
            if !refused { try await Task.sleep(nanoseconds: 5_000_000) }
        }
        #expect(refused)
        #expect(server.lifecycle == .stopping)
        // No listener while stopping, and a second shutdown returns at once.
        await #expect(throws: TTRPCTransportError.self) {
            try await server.listen(TTRPCListenerConfig(address: .unix(path: path + "2")))
        }
        await server.shutdown(gracePeriod: .zero)
        #expect(server.lifecycle == .stopping, "the first shutdown still waits for the held call")
        await gate.open()
        #expect(try await answer == [30])
        await shutdown.value
        #expect(server.callsInFlight == 0)
        #expect(server.lifecycle == .stopped)
        await #expect(throws: TTRPCTransportError.self) {
            try await server.listen(TTRPCListenerConfig(address: .unix(path: path)))
        }
    }

    @Test func aLiveSocketIsNotTakenOverAndAStaleOneIsReplaced() async throws {
        try await withServer { address, _ in
            let second = TTRPCServer(
                services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
            await #expect(throws: (any Error).self) { try await second.listen(TTRPCListenerConfig(address: address)) }
        }
        // A socket file nobody listens on, as a crashed agent leaves it.
        let path = "/tmp/ttrpc-test-stale-\(getpid()).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        unlink(path)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        close(fd)
        let server = TTRPCServer(
            services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        try await server.listen(TTRPCListenerConfig(address: .unix(path: path)))
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        await server.shutdown(gracePeriod: .zero)
    }
}

/// Holds callers until it is opened.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}

private struct Boom: Error {}

private struct Busy: RPCErrorConvertible, CustomStringConvertible {
    var rpcCode: StatusCode { .unavailable }
    var description: String { "the device is busy" }
}
