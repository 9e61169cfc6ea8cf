import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory that protobuf-c unpacks messages into, used again for each one:
/// a region handed out front to back while a message is unpacked and taken
/// back whole when it is freed. What does not fit comes from malloc. One per
/// connection (it is not thread-safe), so that decoding the usual small
/// request allocates nothing.
public final class ProtobufCScratch {
    fileprivate struct Region {
        var base: UnsafeMutableRawPointer
        var used: Int
        var capacity: Int

        func owns(_ pointer: UnsafeMutableRawPointer) -> Bool { pointer >= base && pointer < base + capacity }
    }

    private let region: UnsafeMutablePointer<Region>
    /// What protobuf-c's unpack and free take.
    let allocator: UnsafeMutablePointer<ProtobufCAllocator>

    public init(capacity: Int = 4096) {
        region = .allocate(capacity: 1)
        region.initialize(to: Region(base: malloc(capacity)!, used: 0, capacity: capacity))
        allocator = .allocate(capacity: 1)
        allocator.initialize(
            to: ProtobufCAllocator(
                alloc: scratchAllocate, free: scratchFree, allocator_data: UnsafeMutableRawPointer(region)))
    }

    deinit {
        free(region.pointee.base)
        region.deallocate()
        allocator.deallocate()
    }

    /// Everything handed out is free again (the message was freed).
    func reset() { region.pointee.used = 0 }
}

private func scratchAllocate(_ data: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    let region = data!.assumingMemoryBound(to: ProtobufCScratch.Region.self)
    let aligned = (size + 15) & ~15
    guard region.pointee.used + aligned <= region.pointee.capacity else { return malloc(size) }
    defer { region.pointee.used += aligned }
    return region.pointee.base + region.pointee.used
}

private func scratchFree(_ data: UnsafeMutableRawPointer?, _ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    let region = data!.assumingMemoryBound(to: ProtobufCScratch.Region.self)
    if !region.pointee.owns(pointer) { free(pointer) }
}
