import Foundation
import TestSupport

/// A real software TPM (Debian's swtpm) on loopback, for one test.
final class SoftwareTPM: @unchecked Sendable {
    private let child: ChildProcess
    let port: Int
    let directory: String

    var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }

    init() async throws {
        directory = NSTemporaryDirectory() + "swtpm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/swtpm.log"
        var said = ""
        for _ in 0..<5 {
            // Below the kernel's ephemeral range (32768 on): the tests' many
            // short TPM connections leave ports there in TIME_WAIT.
            let port = Int.random(in: 10000...32000) & ~1
            let process = try ChildProcess(
                [
                    "/usr/bin/swtpm", "socket", "--tpm2",
                    "--server", "type=tcp,port=\(port),bindaddr=127.0.0.1",
                    "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1",
                    "--tpmstate", "dir=\(directory)", "--flags", "not-need-init,startup-clear",
                ], inheriting: true, stderrPath: log)
            // Up to 30 s: on a loaded machine several swtpm starting at once are slow.
            for _ in 0..<3000 {
                if Self.accepts(port: port) {
                    // Another test's swtpm may hold the port (ours then fails
                    // to bind and exits): only a live process of ours counts.
                    try await Task.sleep(nanoseconds: 100_000_000)
                    guard process.isRunning else { break }
                    self.port = port
                    self.child = process
                    return
                }
                guard process.isRunning else { break }
                try await Task.sleep(nanoseconds: 10_000_000)
            }
            // Taken by someone else meanwhile: another port.
            process.stop()
            said = process.stderr
        }
        throw CocoaError(
            .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "swtpm did not start on 5 ports: \(said)"])
    }

    deinit {
        child.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static var installed: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/swtpm") }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// tpm2-tools against this TPM.
    func tool(_ name: String, _ arguments: [String], in directory: String? = nil) throws -> CommandResult {
        try CommandResult.run(path: "/usr/bin/" + name, arguments, environment: ["TPM2TOOLS_TCTI": tcti], in: directory)
    }

    /// Provisions the machine's attestation key at `handle` as an operator
    /// does (the recipe the agent's error names): an EK, an AK under it
    /// (RSA, RSASSA-SHA256, restricted signing), made persistent. swtpm has
    /// no resource manager, so transient objects and sessions are flushed
    /// between the steps. Returns the key's public part (DER SubjectPublicKeyInfo).
    @discardableResult
    func provisionAttestationKey(handle: String = "0x81010002") throws -> Data {
        for (tool, arguments) in [
            ("tpm2_createek", ["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"]),
            ("tpm2_flushcontext", ["-t"]),
            ("tpm2_createak", ["-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa"]),
            ("tpm2_flushcontext", ["-t"]), ("tpm2_flushcontext", ["-s"]),
            ("tpm2_evictcontrol", ["-C", "o", "-c", "ak.ctx", handle]), ("tpm2_flushcontext", ["-t"]),
            ("tpm2_readpublic", ["-c", handle, "-f", "der", "-o", "ak.der"]),
        ] {
            let result = try self.tool(tool, arguments, in: directory)
            guard result.status == 0 else {
                throw CocoaError(
                    .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "\(tool): \(result.stderr)"])
            }
        }
        return try Data(contentsOf: URL(fileURLWithPath: directory + "/ak.der"))
    }

    /// SHA-256 PCR `index` as tpm2_pcrread prints it.
    func pcr(_ index: Int) throws -> String {
        let output = try tool("tpm2_pcrread", ["sha256:\(index)"]).stdout
        return output.split(separator: "0x").last.map { String($0.prefix(64)).lowercased() } ?? ""
    }
}
