/// The connection itself failed: nothing could be sent or no answer came.
public struct TTRPCTransportError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
