import LocalFiles
import PlatformInterface

/// The kernel interfaces the platforms use are files: sysfs attributes,
/// configfs-tsm entries, device nodes. `PlatformRoot` is the real one; tests
/// that need a kernel's behaviour (configfs answering a write) give their own.
public protocol KernelFiles: Sendable {
    func read(_ kernelPath: String) throws(FileError) -> [UInt8]
    func write(_ kernelPath: String, _ bytes: [UInt8]) throws(FileError)
    func exists(_ kernelPath: String) -> Bool
    func makeDirectory(_ kernelPath: String) throws(FileError)
    func removeDirectory(_ kernelPath: String) throws(FileError)
}

extension PlatformRoot: KernelFiles {
    public func write(_ kernelPath: String, _ bytes: [UInt8]) throws(FileError) {
        try LocalFile.write(path(kernelPath), bytes)
    }

    public func makeDirectory(_ kernelPath: String) throws(FileError) {
        try LocalFile.makeDirectory(path(kernelPath))
    }

    public func removeDirectory(_ kernelPath: String) throws(FileError) {
        try LocalFile.removeDirectory(path(kernelPath))
    }
}
