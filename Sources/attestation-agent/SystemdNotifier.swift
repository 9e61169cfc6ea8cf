import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// sd_notify without libsystemd: one datagram to `NOTIFY_SOCKET` (a path, or
/// an abstract name starting with '@').
enum SystemdNotifier {
    static func notify(_ message: String, environment: [String: String], logger: Logger) {
        guard let target = environment["NOTIFY_SOCKET"], !target.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            logger.warning("cannot notify systemd: socket() failed")
            return
        }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(target.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            logger.warning("cannot notify systemd: NOTIFY_SOCKET is too long")
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text.baseAddress, text.count - 1, 0, $0, length)
                }
            }
        }
        if sent < 0 {
            logger.warning("cannot notify systemd at \(target): \(String(cString: strerror(errno)))")
        }
    }
}
