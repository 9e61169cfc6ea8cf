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
    /// The generated descriptor, read from a freshly initialised struct on
    /// the stack: the `_init` function stores its address, which Swift cannot
    /// take directly from a C `const` global without copying it.
    public static var descriptor: UnsafePointer<ProtobufCMessageDescriptor> {
        withUnsafeTemporaryAllocation(of: CMessage.self, capacity: 1) { message in
            initialize(message.baseAddress!)
            return UnsafeRawPointer(message.baseAddress!).assumingMemoryBound(to: ProtobufCMessage.self).pointee
                .descriptor
        }
    }

    /// Unpacks `bytes` with protobuf-c (into `scratch` when given, else
    /// malloc's memory) and hands the C struct to `body`; it is freed when
    /// `body` returns. Throws `ProtobufDecodingError` when protobuf-c refuses
    /// the bytes.
    public static func withUnpacked<Result>(
        _ bytes: UnsafeRawBufferPointer, scratch: ProtobufCScratch? = nil,
        _ body: (UnsafePointer<CMessage>) throws -> Result
    ) throws -> Result {
        let descriptor = Self.descriptor
        let allocator = scratch?.allocator
        defer { scratch?.reset() }
        // protobuf-c wants a valid pointer even for zero bytes.
        let unpacked = withUnsafePointer(to: UInt8(0)) { empty in
            protobuf_c_message_unpack(
                descriptor, allocator, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? empty)
        }
        guard let unpacked else {
            throw ProtobufDecodingError(messageName: String(cString: descriptor.pointee.name), byteCount: bytes.count)
        }
        defer { protobuf_c_message_free_unpacked(unpacked, allocator) }
        return try body(UnsafeRawPointer(unpacked).assumingMemoryBound(to: CMessage.self))
    }

    /// Decodes protobuf bytes; throws `ProtobufDecodingError` when protobuf-c refuses them.
    public init(protobufBytes bytes: UnsafeRawBufferPointer) throws {
        self = try Self.withUnpacked(bytes) { try Self(unpacked: $0) }
    }

    public init(protobufBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Self(protobufBytes: $0) }
    }

    public init(protobufBytes bytes: some Collection<UInt8>) throws {
        self = try Array(bytes).withUnsafeBytes { try Self(protobufBytes: $0) }
    }

    /// Fills this value's C struct (on the stack, its fields in an arena) and
    /// hands it to `body`, which may size and pack it where it likes.
    public func withPacked<Result>(_ body: (UnsafePointer<ProtobufCMessage>) throws -> Result) rethrows -> Result {
        let arena = ProtobufCArena()
        return try withUnsafeTemporaryAllocation(of: CMessage.self, capacity: 1) { buffer in
            let message = buffer.baseAddress!
            Self.initialize(message)
            fill(message, arena: arena)
            return try withExtendedLifetime(arena) {
                try body(UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self))
            }
        }
    }

    /// The protobuf encoding of this value.
    public func protobufBytes() -> [UInt8] {
        withPacked { message in
            let size = protobuf_c_message_get_packed_size(message)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = size == 0 ? 0 : protobuf_c_message_pack(message, buffer.baseAddress)
            }
        }
    }
}
