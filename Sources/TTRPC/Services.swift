import NIOCore

/// What a method handler knows about its call.
public struct TTRPCCallContext: Sendable {
    public let service: String
    public let method: String
    public let metadata: TTRPCMetadata
    /// When the caller stops waiting, if it set `timeout_nano`.
    public let deadline: NIODeadline?
    /// The listener the call came through, as its URI.
    public let listener: String

    public init(service: String, method: String, metadata: TTRPCMetadata, deadline: NIODeadline?, listener: String) {
        self.service = service
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.listener = listener
    }
}

/// A unary method: the decoded payload in, the encoded result out. Throw
/// `TTRPCError` or an `RPCErrorConvertible` to answer with a status code;
/// any other error is INTERNAL.
public typealias TTRPCMethodHandler = @Sendable (TTRPCCallContext, [UInt8]) async throws -> [UInt8]

/// Where a method's task runs.
public enum TTRPCHandlerPlacement: Sendable {
    /// On the connection's event loop, with no thread hop: only for handlers
    /// that answer from memory and never block (a blocking call there would
    /// stall every connection of that loop).
    case eventLoop
    /// On Swift's global concurrent pool, off the event loops: for handlers
    /// that may block on files, devices or a TPM.
    case concurrentPool
}

/// A registered method: its handler and where it runs.
public struct TTRPCMethodEntry: Sendable {
    public let handler: TTRPCMethodHandler
    public let placement: TTRPCHandlerPlacement
}

/// The services a server offers, by service name then method name.
public struct TTRPCServiceSet: Sendable {
    private var services: [String: [String: TTRPCMethodEntry]] = [:]

    public init() {}

    public mutating func register(
        service: String, method: String, placement: TTRPCHandlerPlacement = .concurrentPool,
        handler: @escaping TTRPCMethodHandler
    ) {
        services[service, default: [:]][method] = TTRPCMethodEntry(handler: handler, placement: placement)
    }

    /// The method a call names, or UNIMPLEMENTED as containerd's server words it.
    public func lookup(service: String, method: String) -> Result<TTRPCMethodEntry, TTRPCError> {
        guard let methods = services[service] else {
            return .failure(TTRPCError(.unimplemented, "service \(service)"))
        }
        guard let entry = methods[method] else {
            return .failure(TTRPCError(.unimplemented, "method \(method)"))
        }
        return .success(entry)
    }
}

/// Which methods one listener lets through. A listener facing an untrusted
/// peer (vsock) allows fewer methods than a local Unix socket.
public struct TTRPCMethodFilter: Sendable, Equatable {
    /// nil: every method.
    public let allowedMethods: Set<String>?

    public static let allowAll = TTRPCMethodFilter(allowedMethods: nil)

    public init(allowedMethods: Set<String>?) {
        self.allowedMethods = allowedMethods
    }

    public func allows(method: String) -> Bool {
        allowedMethods?.contains(method) ?? true
    }
}
