import CProtobufC

/// A Swift value that is encoded and decoded through a protobuf-c generated
/// C struct. Conformers copy fields out of the unpacked C struct in
/// `init(unpacked:)` and fill a C struct in `fill`; packing, unpacking
/// and freeing are shared here so no conformer touches protobuf-c's memory
/// rules directly.
public protocol ProtobufCodable {
    associatedtype CMessage
    init(unpacked message: UnsafePointer<CMessage>) throws
    /// Fills an initialised C struct; every pointer it stores must be owned by `arena`.
    func fill(_ message: UnsafeMutablePointer<CMessage>, arena: ProtobufCArena)
    /// The generated `..._init` function (the C `*_INIT` macros are not visible from Swift).
    static func initialize(_ message: UnsafeMutablePointer<CMessage>)
}

public struct ProtobufDecodingError: Error, CustomStringConvertible, Sendable {
    public let messageName: String
    public let byteCount: Int
    public var description: String {
        "cannot decode \(byteCount) bytes as protobuf message \(messageName)"
    }
}

extension ProtobufCodable {
    /// The generated descriptor, read from a freshly initialised struct: the
    /// `_init` function stores its address, which Swift cannot take directly
    /// from a C `const` global without copying it.
    public static var descriptor: UnsafePointer<ProtobufCMessageDescriptor> {
        let message = UnsafeMutablePointer<CMessage>.allocate(capacity: 1)
        defer { message.deallocate() }
        initialize(message)
        return UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
    }

    /// Decodes protobuf bytes; throws `ProtobufDecodingError` when protobuf-c refuses them.
    public init(protobufBytes bytes: some Collection<UInt8>) throws {
        let name = String(cString: Self.descriptor.pointee.name)
        let unpacked: UnsafeMutablePointer<ProtobufCMessage>? = Array(bytes).withUnsafeBufferPointer { buffer in
            // protobuf-c wants a valid pointer even for zero bytes.
            withUnsafePointer(to: UInt8(0)) { empty in
                protobuf_c_message_unpack(Self.descriptor, nil, buffer.count, buffer.baseAddress ?? empty)
            }
        }
        guard let unpacked else {
            throw ProtobufDecodingError(messageName: name, byteCount: bytes.count)
        }
        defer { protobuf_c_message_free_unpacked(unpacked, nil) }
        try self.init(unpacked: UnsafeRawPointer(unpacked).assumingMemoryBound(to: CMessage.self))
    }

    /// The protobuf encoding of this value.
    public func protobufBytes() -> [UInt8] {
        let arena = ProtobufCArena()
        let message = UnsafeMutablePointer<CMessage>.allocate(capacity: 1)
        defer { message.deallocate() }
        Self.initialize(message)
        fill(message, arena: arena)
        let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = size == 0 ? 0 : protobuf_c_message_pack(base, buffer.baseAddress)
        }
    }
}
