import Foundation

/// Where the tests find the project's files and the binaries under test.
public enum PackagePaths {
    /// The clone's root, from this file's place in it.
    public static let root: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    public static let fixtures = root + "/Tests/Fixtures"

    /// The independent checkers written from the consumers' rules.
    public static let oracles = root + "/Tests/Oracles"

    /// A folder of evidence captured on real hardware (docs/testing.md lists
    /// its files and the values the tests expect): AA_HARDWARE_CAPTURES, or
    /// the workspace's `shared/vectors` when the clone sits beside it. nil
    /// where neither exists: the tests that read it are skipped, not failed.
    public static let hardwareCaptures: String? = {
        let folder = ProcessInfo.processInfo.environment["AA_HARDWARE_CAPTURES"] ?? root + "/../shared/vectors"
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue
            ? folder : nil
    }()

    /// Where `swift build` put the binaries (Scripts/test.sh sets AA_BIN_DIR).
    public static let binaries: String = ProcessInfo.processInfo.environment["AA_BIN_DIR"] ?? root + "/.build/debug"
}
