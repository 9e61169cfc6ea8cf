/// A ttrpc call that ended with a non-OK status. Handlers throw it to choose
/// the status code; clients receive it when the server answered with one.
public struct TTRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The raw code as sent on the wire (may be outside `StatusCode`).
    public let rawCode: Int32
    public let message: String

    public init(_ code: StatusCode, _ message: String) {
        self.rawCode = code.rawValue
        self.message = message
    }

    public init(rawCode: Int32, message: String) {
        self.rawCode = rawCode
        self.message = message
    }

    public var code: StatusCode { StatusCode(rawValue: rawCode) ?? .unknown }

    public var description: String { "\(code.name) (\(rawCode)): \(message)" }
}

/// The connection itself failed: nothing could be sent or no answer came.
public struct TTRPCTransportError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
