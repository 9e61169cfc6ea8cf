/// An error that chooses its own wire status, once, where it is defined; the
/// server asks for it (`TTRPCError(answering:)`) and keeps the error as the
/// status's cause. The layers in between pass it on unchanged.
public protocol RPCErrorConvertible: Error, Sendable {
    var rpcCode: StatusCode { get }
    /// What the caller reads; by default the error's description.
    var rpcMessage: String { get }
}

extension RPCErrorConvertible {
    public var rpcMessage: String { String(describing: self) }
}
