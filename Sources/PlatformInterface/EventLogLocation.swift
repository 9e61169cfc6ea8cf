/// Where the agent's event log (upstream's AAEL) lives: upstream's
/// `/run/attestation-agent/eventlog` under the platform root, or the path in
/// `AAEL_PATH` (upstream's override) as it is given. The write-ahead record
/// sits in the same folder, so that a log moved elsewhere keeps its record
/// on the same file system.
public struct EventLogLocation: Sendable, Equatable {
    public static let defaultFile = "/run/attestation-agent/eventlog"
    public static let overrideVariable = "AAEL_PATH"

    public let file: String

    public init(file: String) {
        self.file = file
    }

    public init(root: PlatformRoot, environment: [String: String]) {
        if let path = environment[Self.overrideVariable], !path.isEmpty {
            self.init(file: path)
        } else {
            self.init(file: root.path(Self.defaultFile))
        }
    }

    /// The folder that holds the log, made on the first measurement.
    public var directory: String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// Upstream's `.wal_event_entry`, beside the log.
    public var writeAheadRecord: String { (directory == "/" ? "" : directory) + "/.wal_event_entry" }
}
