import Foundation

/// A fresh folder under the system's temporary directory, named after what it
/// is for; removed when the value goes away (or by `remove()`).
public final class TemporaryFolder: @unchecked Sendable {
    public let path: String

    public init(_ purpose: String) throws {
        path = NSTemporaryDirectory() + "\(purpose)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
