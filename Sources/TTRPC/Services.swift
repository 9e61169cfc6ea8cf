import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

/// A method answered at once from memory: the payload in, the encoded result
/// out, errors as for `TTRPCMethodHandler`.
public typealias TTRPCImmediateHandler = @Sendable ([UInt8]) throws -> [UInt8]

/// Where a method runs.
public enum TTRPCHandlerPlacement: Sendable, Equatable {
    /// Called directly on the connection's event loop as the request is
    /// read: no task, no thread hop, no deadline timer. Only for handlers that
    /// answer from memory and never block or wait (a blocking call there
    /// would stall every connection of that loop).
    case immediate
    /// A task on Swift's global concurrent pool, off the event loops, with the
    /// caller's deadline: for handlers that wait on files, devices, a TPM or
    /// the network.
    case concurrentPool
}

/// A registered method: its handler and where it runs.
public struct TTRPCMethodEntry: Sendable {
    enum Body: Sendable {
        case immediate(TTRPCImmediateHandler)
        case task(TTRPCMethodHandler)
    }

    let body: Body

    public var placement: TTRPCHandlerPlacement {
        switch body {
        case .immediate: .immediate
        case .task: .concurrentPool
        }
    }

    /// The handler as a task calls it (an immediate one is called directly).
    public var handler: TTRPCMethodHandler {
        switch body {
        case .task(let handler): handler
        case .immediate(let handler): { _, payload in try handler(payload) }
        }
    }
}

/// The services a server offers. A request's service and method names are
/// found from the C strings protobuf-c unpacked, and the registered Swift
/// strings are handed on, so that a call to a known method makes no strings.
public struct TTRPCServiceSet: Sendable {
    private struct Method: Sendable {
        let name: String
        let entry: TTRPCMethodEntry
    }

    private struct Service: Sendable {
        let name: String
        var methods: [Method]
    }

    private var services: [Service] = []

    public init() {}

    /// A method that runs as a task on the global pool.
    public mutating func register(service: String, method: String, handler: @escaping TTRPCMethodHandler) {
        add(service: service, method: method, entry: TTRPCMethodEntry(body: .task(handler)))
    }

    /// A method answered on the event loop, at once (see `TTRPCHandlerPlacement.immediate`).
    public mutating func registerImmediate(
        service: String, method: String, handler: @escaping TTRPCImmediateHandler
    ) {
        add(service: service, method: method, entry: TTRPCMethodEntry(body: .immediate(handler)))
    }

    private mutating func add(service: String, method: String, entry: TTRPCMethodEntry) {
        let index =
            services.firstIndex { $0.name == service }
            ?? {
                services.append(Service(name: service, methods: []))
                return services.count - 1
            }()
        services[index].methods.removeAll { $0.name == method }
        services[index].methods.append(Method(name: method, entry: entry))
    }

    /// The method a call names, or UNIMPLEMENTED as containerd's server words it.
    public func lookup(service: String, method: String) -> Result<TTRPCMethodEntry, TTRPCError> {
        var service = service
        var method = method
        return service.withUTF8 { serviceName in
            method.withUTF8 { methodName in
                lookup(service: UnsafeRawBufferPointer(serviceName), method: UnsafeRawBufferPointer(methodName))
                    .map(\.entry)
            }
        }
    }

    /// The method the UTF-8 names of an unpacked request name, with the
    /// registered strings for them.
    func lookup(
        service: UnsafeRawBufferPointer, method: UnsafeRawBufferPointer
    ) -> Result<(service: String, method: String, entry: TTRPCMethodEntry), TTRPCError> {
        guard let found = services.first(where: { Self.same($0.name, service) }) else {
            return .failure(TTRPCError(.unimplemented, "service \(String(decoding: service, as: UTF8.self))"))
        }
        guard let entry = found.methods.first(where: { Self.same($0.name, method) }) else {
            return .failure(TTRPCError(.unimplemented, "method \(String(decoding: method, as: UTF8.self))"))
        }
        return .success((found.name, entry.name, entry.entry))
    }

    private static func same(_ name: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard name.utf8.count == bytes.count else { return false }
        return name.utf8.withContiguousStorageIfAvailable { utf8 in
            bytes.count == 0 || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0
        } ?? name.utf8.elementsEqual(bytes)
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
