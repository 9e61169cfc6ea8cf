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

/// One address a server listens on, with the methods it lets through.
public struct TTRPCListenerConfig: Sendable {
    public var address: SocketURI
    public var filter: TTRPCMethodFilter

    public init(address: SocketURI, filter: TTRPCMethodFilter = .allowAll) {
        self.address = address
        self.filter = filter
    }
}

/// A ttrpc server on SwiftNIO: any number of Unix and vsock listeners sharing
/// one service set. `shutdown` stops accepting, lets calls in flight finish,
/// closes connections and removes the socket files it created.
public final class TTRPCServer: Sendable {
    /// Calls in flight on one connection before new ones get RESOURCE_EXHAUSTED.
    public static let defaultMaxConcurrentStreams = 1024

    private struct State {
        var listeners: [(channel: Channel, address: SocketURI)] = []
        var connections: [ObjectIdentifier: Channel] = [:]
    }

    private let services: TTRPCServiceSet
    private let group: EventLoopGroup
    private let logger: Logger
    private let maxConcurrentStreams: Int
    private let tracker = CallTracker()
    private let state = NIOLockedValueBox(State())

    public init(services: TTRPCServiceSet, group: EventLoopGroup, logger: Logger,
                maxConcurrentStreams: Int = TTRPCServer.defaultMaxConcurrentStreams) {
        self.services = services
        self.group = group
        self.logger = logger
        self.maxConcurrentStreams = maxConcurrentStreams
    }

    /// Starts listening; throws with a message a person can act on when the
    /// address cannot be used.
    public func listen(_ config: TTRPCListenerConfig) async throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
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
        state.withLockedValue { $0.listeners.append((channel, config.address)) }
        logger.info("listening", metadata: ["address": "\(config.address)",
            "methods": "\(config.filter.allowedMethods.map { $0.sorted().joined(separator: ",") } ?? "all")"])
    }

    private func configure(child channel: Channel, config: TTRPCListenerConfig) throws {
        let id = ObjectIdentifier(channel)
        state.withLockedValue { $0.connections[id] = channel }
        channel.closeFuture.whenComplete { [state] _ in
            _ = state.withLockedValue { $0.connections.removeValue(forKey: id) }
        }
        let handler = TTRPCServerConnectionHandler(
            services: services, filter: config.filter, listenerName: config.address.description,
            tracker: tracker, maxConcurrentStreams: maxConcurrentStreams, logger: logger)
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(TTRPCFrameDecoder()),
            MessageToByteHandler(TTRPCFrameEncoder()),
            handler,
        ])
    }

    /// Calls being handled right now, across all connections.
    public var callsInFlight: Int { tracker.inFlight }

    /// Stops accepting, waits up to `gracePeriod` for calls in flight, then
    /// closes every connection and removes the Unix socket files.
    public func shutdown(gracePeriod: TimeAmount = .seconds(10)) async {
        let listeners = state.withLockedValue { state in
            defer { state.listeners = [] }
            return state.listeners
        }
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
    }
}
