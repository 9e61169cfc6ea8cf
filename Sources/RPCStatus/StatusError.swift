/// A refusal or failure: the status the wire carries, a message a person can
/// act on, and the error from a layer below it came from. The agent's core
/// calls it `AgentError`; the configuration parser and the KBS client, which
/// sit below the core (doctor uses them too), throw it under this name.
public struct StatusError: RPCErrorConvertible, Equatable, CustomStringConvertible {
    public let code: StatusCode
    public let message: String
    /// What failed underneath (a file, a device, a remote service), for logs.
    public let cause: (any Error & Sendable)?

    public init(_ code: StatusCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// An error of a layer below with the status it chose itself;
    /// `context`, when given, says what the agent was doing.
    public init(_ error: some RPCErrorConvertible, context: String? = nil) {
        self.init(error.rpcCode, context.map { "\($0): \(error.rpcMessage)" } ?? error.rpcMessage, cause: error)
    }

    public var rpcCode: StatusCode { code }
    public var rpcMessage: String { message }
    public var description: String { "\(code.name): \(message)" }

    /// Equal when the caller would read the same; the cause is not compared.
    public static func == (lhs: StatusError, rhs: StatusError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
}
