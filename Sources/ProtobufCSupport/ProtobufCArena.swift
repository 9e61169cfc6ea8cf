import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the C memory a message points at while it is being packed: strings,
/// byte buffers and arrays of sub-messages. Everything is freed when the arena goes.
public final class ProtobufCArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    public init() {}

    deinit {
        for pointer in allocations { free(pointer) }
    }

    /// A NUL-terminated copy of `string`.
    public func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(copy)
        return copy
    }

    /// A `ProtobufCBinaryData` holding a copy of `bytes`.
    public func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let copy = allocate(UInt8.self, count: bytes.count)
        copy.initialize(from: bytes, count: bytes.count)
        return ProtobufCBinaryData(len: bytes.count, data: copy)
    }

    /// Uninitialised memory for `count` values, freed with the arena.
    public func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, count * MemoryLayout<T>.stride))!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A C array of NUL-terminated strings, as protobuf-c's `repeated string`.
    public func cStringArray(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = allocate(UnsafeMutablePointer<CChar>?.self, count: strings.count)
        for (index, string) in strings.enumerated() { array[index] = cString(string) }
        return array
    }

    /// A filled C struct for a nested message, owned by this arena.
    public func message<M: ProtobufCodable>(_ value: M) -> UnsafeMutablePointer<M.CMessage> {
        let pointer = allocate(M.CMessage.self, count: 1)
        M.initialize(pointer)
        value.fill(pointer, arena: self)
        return pointer
    }
}

/// Reading protobuf-c fields back into Swift values.
public enum ProtobufCField {
    public static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    public static func strings(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) -> [String] {
        guard let array else { return [] }
        return (0..<count).map { string(array[$0]) }
    }
}
