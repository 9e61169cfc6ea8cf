import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the C memory a message points at while it is being packed: strings,
/// byte buffers and arrays of sub-messages. It hands them out of blocks it
/// allocates as it goes (one for a small message) and frees them when it goes,
/// so that packing costs a couple of allocations, not one per field.
public final class ProtobufCArena {
    /// The block being filled; its first word points at the one before it.
    private var block: UnsafeMutableRawPointer?
    private var used = 0
    private var capacity = 0
    private static let header = 16
    private static let alignment = 16
    private static let blockSize = 1024

    public init() {}

    deinit {
        var next = block
        while let current = next {
            next = current.load(as: UnsafeMutableRawPointer?.self)
            free(current)
        }
    }

    /// Uninitialised memory for `count` values, freed with the arena.
    public func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        raw(byteCount: max(1, count * MemoryLayout<T>.stride)).bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `string`.
    public func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let copy = raw(byteCount: utf8.count + 1)
            if let base = utf8.baseAddress { copy.copyMemory(from: base, byteCount: utf8.count) }
            copy.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return copy.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// A `ProtobufCBinaryData` holding a copy of `bytes`.
    public func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let copy = allocate(UInt8.self, count: bytes.count)
        copy.initialize(from: bytes, count: bytes.count)
        return ProtobufCBinaryData(len: bytes.count, data: copy)
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

    private func raw(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = (byteCount + Self.alignment - 1) & ~(Self.alignment - 1)
        if block == nil || used + size > capacity {
            let blockCapacity = max(Self.blockSize, Self.header + size)
            let fresh = malloc(blockCapacity)!
            fresh.storeBytes(of: block, as: UnsafeMutableRawPointer?.self)
            block = fresh
            used = Self.header
            capacity = blockCapacity
        }
        defer { used += size }
        return block! + used
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
