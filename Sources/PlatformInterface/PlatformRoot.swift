import LocalFiles

/// The root under which every kernel path is read (`AA_PLATFORM_ROOT`,
/// default `/`), so that tests can lay out a fake machine in a folder.
public struct PlatformRoot: Sendable, Equatable {
    public let root: String

    public init(_ root: String = "/") {
        self.root = root
    }

    public init(environment: [String: String]) {
        self.init(environment["AA_PLATFORM_ROOT"] ?? "/")
    }

    /// `kernelPath` (absolute, as `/proc/cmdline`) under the root.
    public func path(_ kernelPath: String) -> String {
        guard root != "/" && !root.isEmpty else { return kernelPath }
        return (root.hasSuffix("/") ? String(root.dropLast()) : root) + kernelPath
    }

    public func read(_ kernelPath: String) throws(FileError) -> [UInt8] {
        try LocalFile.read(path(kernelPath))
    }

    public func exists(_ kernelPath: String) -> Bool {
        LocalFile.exists(path(kernelPath))
    }
}
