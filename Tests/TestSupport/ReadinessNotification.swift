import Foundation

/// systemd's end of `NOTIFY_SOCKET`: a datagram socket the agent sends
/// `READY=1` to once every listener listens. Tests wait for that message
/// rather than polling the agent's socket, so "ready" means what it means to
/// systemd and to kata: every listener is up. Bound by hand, not with the
/// agent's code: this side stands for systemd.
public final class ReadinessNotification: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32

    /// A socket at `path` (a previous file there is removed).
    public init(path: String) throws {
        self.path = path
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard descriptor >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw POSIXError(.ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let error = POSIXErrorCode(rawValue: errno) ?? .EINVAL
            close(descriptor)
            throw POSIXError(error)
        }
    }

    /// The first message that arrives within `seconds` (stretched under a
    /// sanitizer), or nil when none does or `stillWaiting` turns false (the
    /// process that would send it has exited).
    public func message(seconds: Double, while stillWaiting: () -> Bool = { true }) async -> String? {
        let giveUp = Date().addingTimeInterval(seconds * TestBudget.timeScale)
        var buffer = [UInt8](repeating: 0, count: 256)
        while Date() < giveUp {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { return String(decoding: buffer.prefix(count), as: UTF8.self) }
            guard stillWaiting() else { return nil }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return nil
    }

    deinit {
        close(descriptor)
        unlink(path)
    }
}
