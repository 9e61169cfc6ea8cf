import Foundation

/// The independent checkers in `Tests/Oracles`, written from the consumers'
/// rules (trustee, the sev crate, the TCG spec, NVIDIA's verifier) in
/// Python, sharing no code with the agent.
public enum Oracle {
    /// Runs `script` with `arguments`; returns its exit status and what it
    /// printed (stdout and stderr together).
    public static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", PackagePaths.oracles + "/" + script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A scratch folder for the files an oracle reads.
    public static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "aa-oracle-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
