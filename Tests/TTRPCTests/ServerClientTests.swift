import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import TTRPC

#if canImport(Glibc)
import Glibc
#endif

/// A real server and client on a real Unix socket.
@Suite struct ServerClientTests {
    private static func services() -> TTRPCServiceSet {
        var services = TTRPCServiceSet()
        services.register(service: "svc", method: "Echo") { _, payload in payload }
        // Sleeps for the number of milliseconds in its first payload byte * 10.
        services.register(service: "svc", method: "Sleep") { _, payload in
            try await Task.sleep(nanoseconds: UInt64(payload.first ?? 0) * 10_000_000)
            return payload
        }
        services.register(service: "svc", method: "Fail") { _, _ in throw TTRPCError(.notFound, "nothing here") }
        services.register(service: "svc", method: "Crash") { _, _ in struct Boom: Error {}; throw Boom() }
        return services
    }

    private func withServer(_ body: (SocketURI, TTRPCServer) async throws -> Void) async throws {
        let path = "/tmp/ttrpc-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = TTRPCServer(services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
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
            await #expect(throws: TTRPCError.self) { try await client.call(service: "svc", method: "Crash", payload: []) }
            // The connection is still good after errors.
            #expect(try await client.call(service: "svc", method: "Echo", payload: [9]) == [9])
            await client.close()
        }
    }

    @Test func responsesComeBackInAnyOrder() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            let finished = NIOLockedOrder()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for delay in [30, 1] as [UInt8] {
                    group.addTask {
                        _ = try await client.call(service: "svc", method: "Sleep", payload: [delay])
                        finished.append(delay)
                    }
                    try await Task.sleep(nanoseconds: 20_000_000)
                }
                try await group.waitForAll()
            }
            #expect(finished.values == [1, 30], "the short call sent second is answered first")
            await client.close()
        }
    }

    @Test func hundredConcurrentCallsOnOneConnection() async throws {
        try await withServer { address, _ in
            let client = try await TTRPCClient.connect(to: address)
            let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for index in 0..<100 {
                    group.addTask { (index, try await client.call(service: "svc", method: "Echo", payload: [UInt8(index), 7])) }
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

    @Test func shutdownLetsACallInFlightFinish() async throws {
        let path = "/tmp/ttrpc-test-drain-\(getpid()).sock"
        let server = TTRPCServer(services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        try await server.listen(TTRPCListenerConfig(address: .unix(path: path)))
        let client = try await TTRPCClient.connect(to: .unix(path: path))
        async let answer = client.call(service: "svc", method: "Sleep", payload: [30])
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(server.callsInFlight == 1)
        await server.shutdown(gracePeriod: .seconds(5))
        #expect(try await answer == [30])
        await #expect(throws: TTRPCTransportError.self) { try await TTRPCClient.connect(to: .unix(path: path)) }
    }

    @Test func aLiveSocketIsNotTakenOverAndAStaleOneIsReplaced() async throws {
        try await withServer { address, _ in
            let second = TTRPCServer(services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
            await #expect(throws: (any Error).self) { try await second.listen(TTRPCListenerConfig(address: address)) }
        }
        // A socket file nobody listens on, as a crashed agent leaves it.
        let path = "/tmp/ttrpc-test-stale-\(getpid()).sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        unlink(path)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        close(fd)
        let server = TTRPCServer(services: Self.services(), group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        try await server.listen(TTRPCListenerConfig(address: .unix(path: path)))
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        await server.shutdown(gracePeriod: .zero)
    }
}

/// Records the order in which concurrent tasks finish.
final class NIOLockedOrder: @unchecked Sendable {
    private var items: [UInt8] = []
    private let lock = NIOLock()
    func append(_ value: UInt8) { lock.withLock { items.append(value) } }
    var values: [UInt8] { lock.withLock { items } }
}
