import Foundation

/// The independent checkers in `Tests/Oracles`, written from the consumers'
/// rules (trustee, the sev crate, the TCG spec, NVIDIA's verifier) in
/// Python, sharing no code with the agent.
public enum Oracle {
    /// Runs `script` with `arguments` under the system's python3, the one
    /// Scripts/install-deps.sh gives `cryptography`.
    public static func run(_ script: String, _ arguments: [String]) throws -> CommandResult {
        try CommandResult.run(path: "/usr/bin/python3", [PackagePaths.oracles + "/" + script] + arguments)
    }

    public static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
