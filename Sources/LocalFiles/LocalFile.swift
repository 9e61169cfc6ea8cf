import RPCStatus

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be read or written, with the path and the system's
/// reason: UNAVAILABLE on the wire (the call may work once the file does).
public struct FileError: RPCErrorConvertible, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
    public var rpcCode: StatusCode { .unavailable }
}

/// Whole-file reads without Foundation.
public enum LocalFile {
    /// Files larger than this are refused: nothing the agent reads is near it.
    public static let maxSize = 16 << 20

    public static func read(_ path: String) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
            if contents.count > maxSize { throw FileError(path: path, reason: "larger than \(maxSize) bytes") }
        }
    }

    public static func readText(_ path: String) throws(FileError) -> String {
        let bytes = try read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileError(path: path, reason: "not valid UTF-8 text")
        }
        return text
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether `path` is a regular file (a link to one counts).
    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The size of a file, nil when there is none.
    public static func size(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Writes `bytes` in one write(2), as sysfs and configfs attributes want;
    /// with `create`, a regular file is created or truncated (mode 0600) and synced.
    public static func write(_ path: String, _ bytes: [UInt8], create: Bool = false) throws(FileError) {
        let flags = create ? O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC : O_WRONLY | O_CLOEXEC
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw FileError(
                path: path,
                reason: written < 0
                    ? String(cString: strerror(errno)) : "short write of \(written) of \(bytes.count) bytes")
        }
        if create { fsync(fd) }
    }

    /// Puts `bytes` at `path` all at once: written and synced under a
    /// temporary name, then renamed over it, so a crash at any moment leaves
    /// the old file or the new one, never a part of it.
    public static func replace(_ path: String, _ bytes: [UInt8]) throws(FileError) {
        let temporary = path + ".new"
        try write(temporary, bytes, create: true)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError(path: path, reason: reason)
        }
    }

    /// Writes `bytes` at `offset` of a regular file (created if missing), then syncs.
    public static func append(_ path: String, _ bytes: [UInt8], at offset: Int) throws(FileError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT, 0o600)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count, ftruncate(fd, off_t(offset + bytes.count)) == 0, fsync(fd) == 0 else {
            throw FileError(path: path, reason: String(cString: strerror(errno)))
        }
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Creates `path` and its missing parents.
    public static func makeDirectories(_ path: String) throws(FileError) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw FileError(path: current, reason: String(cString: strerror(errno)))
            }
        }
    }

    public static func makeDirectory(_ path: String) throws(FileError) {
        guard mkdir(path, 0o700) == 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
    }

    public static func removeDirectory(_ path: String) throws(FileError) {
        guard rmdir(path) == 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
    }
}

private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
