import Foundation
import TestSupport

/// The stand-in for NVIDIA's management library (Tests/NVML/fake_nvml.c),
/// built by the compiler on this machine, with a GPU attestation key chain of
/// this test's own (Tests/NVML/hopper_report.py): the agent loads it through
/// LD_LIBRARY_PATH as it would load the driver's libnvidia-ml.so.1.
final class FakeNVML: @unchecked Sendable {
    let directory: String

    /// The library, built once per test run.
    static let library: Result<String, Error> = Result(catching: { () throws -> String in
        let folder = NSTemporaryDirectory() + "fake-nvml-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let built = try CommandResult.run(
            path: "/usr/bin/cc",
            [
                "-shared", "-fPIC", "-O1", "-o", folder + "/libnvidia-ml.so.1",
                PackagePaths.root + "/Tests/NVML/fake_nvml.c",
            ])
        guard built.status == 0 else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "cc: \(built.stderr)"])
        }
        return folder
    })

    init() throws {
        directory = NSTemporaryDirectory() + "gpu-\(UUID().uuidString.prefix(8))"
        let made = try CommandResult.run(path: "/usr/bin/python3", [Self.generator, "chain", directory])
        guard made.status == 0 else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: made.stderr])
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static let generator = PackagePaths.root + "/Tests/NVML/hopper_report.py"
    var root: String { directory + "/root.pem" }
    var noncesPath: String { directory + "/nonces" }

    /// The agent's environment for `gpus` ("ARCH:UUID,...", NVML's
    /// architecture numbers), each answering reports made for the nonce asked.
    func environment(gpus: String = "9:GPU-0a0a,9:GPU-1b1b", _ extra: [String: String] = [:]) throws -> [String: String]
    {
        [
            "LD_LIBRARY_PATH": try Self.library.get(), "FAKE_NVML_GPUS": gpus,
            "FAKE_NVML_CERTS": directory + "/chain.pem", "FAKE_NVML_NONCES": noncesPath,
            "FAKE_NVML_REPORT_COMMAND": "/usr/bin/python3 \(Self.generator) report \(directory)",
        ].merging(extra) { $1 }
    }

    /// The nonces the GPUs were asked for, in hex, in order.
    var nonces: [String] {
        ((try? String(contentsOfFile: noncesPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Tests/Oracles/nvidia_evidence.py's verdict on `evidence` (the `nvidia`
    /// member of additional evidence): "ok N" or the rule broken.
    static func verdict(_ evidence: Any, reportData: [UInt8], root: String?) throws -> String {
        let path = NSTemporaryDirectory() + "nvidia-evidence-\(UUID().uuidString.prefix(8)).json"
        try JSONSerialization.data(withJSONObject: evidence).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Oracle.run(
            "nvidia_evidence.py", [path, "--report-data", reportData.hex] + (root.map { ["--root", $0] } ?? []))
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
