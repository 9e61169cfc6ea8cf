import TTRPC
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct UnixSocketAddressTests {
    /// sun_path holds 108 bytes: a path of 107 fits with its NUL, 108 is
    /// refused rather than cut to another socket's name.
    @Test func pathsAndTheirLengths() {
        let family = MemoryLayout<sa_family_t>.size
        #expect(UnixSocketAddress.with("/run/aa.sock") { _, length in length } == socklen_t(family + 13))
        #expect(UnixSocketAddress.with("/" + String(repeating: "a", count: 106)) { $1 } == socklen_t(family + 108))
        #expect(UnixSocketAddress.with("/" + String(repeating: "a", count: 107)) { $1 } == nil)
        #expect(UnixSocketAddress.with("") { $1 } == nil)
    }

    /// "@name" is the abstract name "\0name", its length without a NUL.
    @Test func abstractNames() {
        let bytes = UnixSocketAddress.with("@notify") { address, length in
            address.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { un in
                withUnsafeBytes(of: un.pointee.sun_path) {
                    Array($0.prefix(Int(length) - MemoryLayout<sa_family_t>.size))
                }
            }
        }
        #expect(bytes == [0] + Array("notify".utf8))
    }
}
