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

    /// Where `swift build` put the binaries (Scripts/test.sh sets AA_BIN_DIR).
    public static let binaries: String = ProcessInfo.processInfo.environment["AA_BIN_DIR"] ?? root + "/.build/debug"
}
