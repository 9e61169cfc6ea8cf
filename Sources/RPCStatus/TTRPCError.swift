/// A call that ended with a non-OK status: what a server sends and a client
/// receives. Any error a handler throws becomes one: a `TTRPCError` as it
/// is, an `RPCErrorConvertible` with the status it chose (kept as `cause`),
/// anything else INTERNAL.
public struct TTRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The raw code as sent on the wire (may be outside `StatusCode`).
    public let rawCode: Int32
    public let message: String
    /// The error this one was made from, for logs; never sent.
    public let cause: (any Error & Sendable)?

    public init(_ code: StatusCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.rawCode = code.rawValue
        self.message = message
        self.cause = cause
    }

    public init(rawCode: Int32, message: String) {
        self.rawCode = rawCode
        self.message = message
        self.cause = nil
    }

    /// The status a handler's error answers with.
    public init(answering error: any Error) {
        switch error {
        case let error as TTRPCError:
            self = error
        case let error as any RPCErrorConvertible:
            self.init(error.rpcCode, error.rpcMessage, cause: error)
        default:
            self.init(.internal, "\(error)")
        }
    }

    public var code: StatusCode { StatusCode(rawValue: rawCode) ?? .unknown }

    public var description: String { "\(code.name) (\(rawCode)): \(message)" }

    /// Equal when the wire would carry the same status; the cause is not compared.
    public static func == (lhs: TTRPCError, rhs: TTRPCError) -> Bool {
        lhs.rawCode == rhs.rawCode && lhs.message == rhs.message
    }
}
