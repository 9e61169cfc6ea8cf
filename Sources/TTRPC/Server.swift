import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One address a server listens on, with the methods it lets through and
/// how many connections it holds at once: each listener has its own budget,
/// so clients of one (the host on vsock) cannot crowd out another's.
public struct TTRPCListenerConfig: Sendable {
    /// Connections one listener holds at once; more are closed on accept.
    public static let defaultMaxConnections = 128

    public var address: SocketURI
    public var filter: TTRPCMethodFilter
    public var maxConnections: Int

    public init(
        address: SocketURI, filter: TTRPCMethodFilter = .allowAll,
        maxConnections: Int = TTRPCListenerConfig.defaultMaxConnections
    ) {
        self.address = address
        self.filter = filter
        self.maxConnections = maxConnections
    }
}

/// Where a server is in its life; it only moves forward.
public enum TTRPCServerLifecycle: Sendable, Equatable {
    /// Created, no listener yet.
    case notStarted
    /// At least one listener accepts connections.
    case running
    /// `shutdown` began: no new listener or connection, calls in flight finish.
    case stopping
    /// Every listener and connection is closed; it cannot start again.
    case stopped
}

/// A ttrpc server on SwiftNIO: any number of Unix and vsock listeners sharing
/// one service set. `shutdown` stops accepting, lets calls in flight finish,
/// closes connections and removes the socket files it created.
public final class TTRPCServer: Sendable {
    /// Calls in flight on one connection before new ones get RESOURCE_EXHAUSTED.
    public static let defaultMaxConcurrentStreams = 1024
    /// How long a frame may take to arrive once its first byte has: a client
    /// that starts a frame and stalls is disconnected, not waited for.
    public static let defaultFrameTimeout = TimeAmount.seconds(10)

    private struct State {
        var lifecycle = TTRPCServerLifecycle.notStarted
        var listeners: [(channel: Channel, address: SocketURI)] = []
        var connections: [ObjectIdentifier: Channel] = [:]
        var connectionsPerListener: [String: Int] = [:]
    }

    private let services: TTRPCServiceSet
    private let group: EventLoopGroup
    private let logger: Logger
    private let maxConcurrentStreams: Int
    private let frameTimeout: TimeAmount
    private let tracker = CallTracker()
    private let memoryRelease: FreeMemoryRelease
    private let state = NIOLockedValueBox(State())

    public init(
        services: TTRPCServiceSet, group: EventLoopGroup, logger: Logger,
        maxConcurrentStreams: Int = TTRPCServer.defaultMaxConcurrentStreams,
        frameTimeout: TimeAmount = TTRPCServer.defaultFrameTimeout
    ) {
        self.services = services
        self.group = group
        self.logger = logger
        self.maxConcurrentStreams = maxConcurrentStreams
        self.frameTimeout = frameTimeout
        self.memoryRelease = FreeMemoryRelease(callsInFlight: { [tracker] in tracker.inFlight })
    }

    public var lifecycle: TTRPCServerLifecycle { state.withLockedValue(\.lifecycle) }

    /// Starts listening; throws with a message a person can act on when the
    /// address cannot be used or the server is shutting down.
    public func listen(_ config: TTRPCListenerConfig) async throws {
        try refuseAfterShutdown(config.address)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            // One read takes at most 16 KiB: what a single burst of pipelined
            // requests can start before reads pause stays small.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16384)
            )
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(child: channel, config: config)
                }
            }
        let channel: Channel
        switch config.address {
        case .unix(let path):
            try UnixSocketFile.prepare(path)
            // The socket is created owner-only (no window with a wider mode);
            // the chmod makes sure of it whatever the umask did.
            let previousMask = umask(0o177)
            defer { umask(previousMask) }
            channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            try UnixSocketFile.restrictToOwner(path)
        case .vsock(let cid, let port):
            let address = VsockAddress(cid: .init(rawValue: cid), port: .init(rawValue: port))
            do {
                channel = try await bootstrap.bind(to: address).get()
            } catch {
                throw TTRPCTransportError("cannot listen on \(config.address): \(error)")
            }
        }
        // A shutdown that began while binding has already closed the others.
        let added = state.withLockedValue { state in
            guard state.lifecycle == .notStarted || state.lifecycle == .running else { return false }
            state.lifecycle = .running
            state.listeners.append((channel, config.address))
            return true
        }
        guard added else {
            try? await channel.close()
            if case .unix(let path) = config.address { UnixSocketFile.remove(path) }
            try refuseAfterShutdown(config.address)
            return
        }
        logger.info(
            "listening",
            metadata: [
                "address": "\(config.address)",
                "methods": "\(config.filter.allowedMethods.map { $0.sorted().joined(separator: ",") } ?? "all")",
            ])
    }

    private func configure(child channel: Channel, config: TTRPCListenerConfig) throws {
        let id = ObjectIdentifier(channel)
        let listener = config.address.description
        let refusal: String? = state.withLockedValue { state in
            guard state.lifecycle == .running else { return "the server is \(state.lifecycle)" }
            guard state.connectionsPerListener[listener, default: 0] < config.maxConnections else {
                return "the listener holds its limit of \(config.maxConnections) connections"
            }
            state.connectionsPerListener[listener, default: 0] += 1
            state.connections[id] = channel
            return nil
        }
        if let refusal {
            logger.warning("refusing a connection", metadata: ["listener": "\(listener)", "reason": "\(refusal)"])
            throw TTRPCTransportError("\(listener): \(refusal)")
        }
        channel.closeFuture.whenComplete { [state, memoryRelease, eventLoop = channel.eventLoop] _ in
            state.withLockedValue { state in
                state.connections.removeValue(forKey: id)
                state.connectionsPerListener[listener, default: 1] -= 1
            }
            // What a closed connection buffered is freed now; its pages go
            // back to the system once the server is quiet.
            memoryRelease.connectionClosed(on: eventLoop)
        }
        let handler = TTRPCServerConnectionHandler(
            services: services, filter: config.filter, listenerName: listener,
            tracker: tracker, maxConcurrentStreams: maxConcurrentStreams, logger: logger)
        try channel.pipeline.syncOperations.addHandlers([
            TTRPCFrameReader(frameTimeout: frameTimeout),
            MessageToByteHandler(TTRPCFrameEncoder()),
            handler,
        ])
    }

    /// Calls being handled right now, across all connections.
    public var callsInFlight: Int { tracker.inFlight }

    private func refuseAfterShutdown(_ address: SocketURI) throws {
        let lifecycle = state.withLockedValue(\.lifecycle)
        guard lifecycle == .notStarted || lifecycle == .running else {
            throw TTRPCTransportError("cannot listen on \(address): the server is \(lifecycle)")
        }
    }

    /// Stops accepting, waits up to `gracePeriod` for calls in flight, then
    /// closes every connection and removes the Unix socket files. A second
    /// call while the first runs, or after it, does nothing.
    public func shutdown(gracePeriod: TimeAmount = .seconds(10)) async {
        let listeners: [(channel: Channel, address: SocketURI)]? = state.withLockedValue { state in
            guard state.lifecycle == .notStarted || state.lifecycle == .running else { return nil }
            state.lifecycle = .stopping
            defer { state.listeners = [] }
            return state.listeners
        }
        guard let listeners else { return }
        for listener in listeners {
            try? await listener.channel.close()
            if case .unix(let path) = listener.address { UnixSocketFile.remove(path) }
        }
        // Polled rather than awaited: a call that ignores cancellation must not
        // hold the shutdown past its grace period.
        let giveUp = NIODeadline.now() + gracePeriod
        while tracker.inFlight > 0 && NIODeadline.now() < giveUp {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        let remaining = tracker.inFlight
        if remaining > 0 {
            logger.warning("closing connections with calls still in flight", metadata: ["calls": "\(remaining)"])
        }
        let connections = state.withLockedValue { Array($0.connections.values) }
        for connection in connections { try? await connection.close() }
        state.withLockedValue { $0.lifecycle = .stopped }
    }
}
