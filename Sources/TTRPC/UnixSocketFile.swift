#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Preparing and removing the file of a listening Unix socket.
enum UnixSocketFile {
    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// Makes `path` free to bind: creates its directory if missing, removes a
    /// stale socket that nobody answers on, and refuses to touch a live one or
    /// anything that is not a socket.
    static func prepare(_ path: String) throws {
        try createDirectory(parentOf: path)
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Error(
                description: "\(path) exists and is not a socket; remove it or choose another --attestation_sock")
        }
        if isAnswering(path) {
            throw Error(description: "another process is already listening on \(path)")
        }
        guard unlink(path) == 0 else {
            throw Error(description: "cannot remove stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func restrictToOwner(_ path: String) throws {
        guard chmod(path, 0o600) == 0 else {
            throw Error(description: "cannot set mode 0600 on \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func createDirectory(parentOf path: String) throws {
        var components = path.split(separator: "/").dropLast().map(String.init)
        var current = ""
        while !components.isEmpty {
            current += "/" + components.removeFirst()
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw Error(
                    description:
                        "cannot create directory \(current) for the socket: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func isAnswering(_ path: String) -> Bool {
        #if canImport(Darwin)
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return UnixSocketAddress.with(path) { connect(fd, $0, $1) } == 0
    }
}
