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
    /// Calls one connection runs at once; frames past them wait, in order,
    /// and no more is read from that connection until one ends.
    public static let defaultMaxCallsInFlight = 64
    /// How long a frame may take to arrive once its first byte has: a client
    /// that starts a frame and stalls is disconnected, not waited for.
    public static let defaultFrameTimeout = TimeAmount.seconds(10)

    private struct State {
        var lifecycle = TTRPCServerLifecycle.notStarted
        var listeners: [(channel: Channel, address: SocketURI)] = []
        var connections: [ObjectIdentifier: (channel: Channel, listener: String, activity: ConnectionActivity)] = [:]
        var connectionsPerListener: [String: Int] = [:]
    }

    private let services: TTRPCServiceSet
    private let group: EventLoopGroup
    private let logger: Logger
    private let maxCallsInFlight: Int
    private let frameTimeout: TimeAmount
    private let tracker = CallTracker()
    private let memoryRelease: FreeMemoryRelease
    private let state = NIOLockedValueBox(State())

    public init(
        services: TTRPCServiceSet, group: EventLoopGroup, logger: Logger,
        maxCallsInFlight: Int = TTRPCServer.defaultMaxCallsInFlight,
        frameTimeout: TimeAmount = TTRPCServer.defaultFrameTimeout
    ) {
        self.services = services
        self.group = group
        self.logger = logger
        self.maxCallsInFlight = maxCallsInFlight
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

    /// Takes a new connection. At the listener's limit the connection idle
    /// longest makes room (one that never made a call first), so that idle
    /// connections cannot lock the agent's real callers out; only when every
    /// connection is running a call is the newcomer refused.
    private func configure(child channel: Channel, config: TTRPCListenerConfig) throws {
        let id = ObjectIdentifier(channel)
        let listener = config.address.description
        let activity = ConnectionActivity()
        let admission: Result<Channel?, TTRPCTransportError> = state.withLockedValue { state in
            guard state.lifecycle == .running else {
                return .failure(TTRPCTransportError("\(listener): the server is \(state.lifecycle)"))
            }
            var evicted: Channel?
            if state.connectionsPerListener[listener, default: 0] >= config.maxConnections {
                let ours = state.connections.filter { $0.value.listener == listener }
                guard let victim = ConnectionActivity.evictee(ours.map { ($0.key, $0.value.activity) }) else {
                    return .failure(
                        TTRPCTransportError(
                            "\(listener): the listener holds its limit of \(config.maxConnections) connections, each running a call"
                        ))
                }
                evicted = state.connections.removeValue(forKey: victim)?.channel
                state.connectionsPerListener[listener, default: 1] -= 1
            }
            state.connectionsPerListener[listener, default: 0] += 1
            state.connections[id] = (channel, listener, activity)
            return .success(evicted)
        }
        switch admission {
        case .failure(let refusal):
            logger.warning("refusing a connection", metadata: ["listener": "\(listener)", "reason": "\(refusal)"])
            throw refusal
        case .success(let evicted?):
            logger.warning(
                "closing the connection idle longest to take a new one",
                metadata: ["listener": "\(listener)", "limit": "\(config.maxConnections)"])
            evicted.close(promise: nil)
        case .success(nil):
            break
        }
        channel.closeFuture.whenComplete { [state, memoryRelease, eventLoop = channel.eventLoop] _ in
            state.withLockedValue { state in
                // An evicted connection was already taken out of the count.
                if state.connections.removeValue(forKey: id) != nil {
                    state.connectionsPerListener[listener, default: 1] -= 1
                }
            }
            // What a closed connection buffered is freed now; its pages go
            // back to the system once the server is quiet.
            memoryRelease.connectionClosed(on: eventLoop)
        }
        let handler = TTRPCServerConnectionHandler(
            services: services, filter: config.filter, listenerName: listener,
            tracker: tracker, activity: activity, maxCallsInFlight: maxCallsInFlight, logger: logger)
        try channel.pipeline.syncOperations.addHandlers([
            TTRPCFrameReader(frameTimeout: frameTimeout),
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
        let connections = state.withLockedValue { $0.connections.values.map(\.channel) }
        for connection in connections { try? await connection.close() }
        state.withLockedValue { $0.lifecycle = .stopped }
    }
}
