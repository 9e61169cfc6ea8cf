import Logging
import TTRPC

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
        let sent = UnixSocketAddress.with(target) { address, length in
            message.utf8CString.withUnsafeBufferPointer { text in
                sendto(fd, text.baseAddress, text.count - 1, 0, address, length)
            }
        }
        guard let sent else {
            logger.warning("cannot notify systemd: NOTIFY_SOCKET is too long")
            return
        }
        if sent < 0 {
            logger.warning("cannot notify systemd at \(target): \(String(cString: strerror(errno)))")
        }
    }
}
