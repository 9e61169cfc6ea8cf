import Crypto
import Foundation
import Testing

/// `aactl doctor` against the real agent, a Booting one and none.
@Suite struct DoctorCommandTests {
    static let document =
        "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"http://127.0.0.1:9\"\n'''\n"

    @Test func aHealthyAgentPassesAndSaysWhatItSaw() async throws {
        let digest = SHA384.hash(data: Data(Self.document.utf8)).map { String(format: "%02x", $0) }.joined()
        let agent = try AgentProcess(
            environment: ["AA_SAMPLE_INITDATA": digest],
            setUp: { directory in
                try Self.document.write(toFile: directory + "/initdata.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--initdata-toml", directory + "/initdata.toml"]
            })
        await (try agent.waitUntilListening()).close()
        let options = ["--socket", "unix://" + agent.socketPath, "--initdata", agent.directory + "/initdata.toml"]

        let text = try CommandResult.run("aactl", ["doctor"] + options)
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.hasPrefix("PASS agent: Configured on unix://\(agent.socketPath)") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("WARN TEE: ") }, "the sample TEE proves nothing")
        #expect(lines.contains { $0.hasPrefix("PASS initdata: ") && $0.contains(digest) }, "\(text.stdout)")

        let json = try CommandResult.run("aactl", ["doctor", "--json"] + options)
        #expect(json.status == 0)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(parsed["ok"] as? Bool == true)
        let checks = try #require(parsed["checks"] as? [[String: Any]])
        #expect(
            checks.map { $0["outcome"] as? String }
                == lines.filter { !$0.hasPrefix(" ") }.map { String($0.prefix(4)).lowercased() })
    }

    @Test func aBootingAgentFailsWithTheFix() async throws {
        let agent = try AgentProcess(["--await-initdata"])
        await (try agent.waitUntilListening()).close()
        let result = try CommandResult.run(
            "aactl", ["doctor", "--socket", "unix://" + agent.socketPath, "--initdata", agent.directory + "/none.toml"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL agent: Booting"), "\(result.stdout)")
        #expect(result.stdout.contains("fix: the launcher must bind initdata"), "\(result.stdout)")
    }

    @Test func noAgentFailsAndNamesTheSocket() throws {
        let socket = "unix://" + NSTemporaryDirectory() + "no-agent-\(UUID().uuidString.prefix(6)).sock"
        let result = try CommandResult.run(
            "aactl", ["doctor", "--socket", socket, "--initdata", "/nonexistent/initdata.toml"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL agent: no answer on \(socket)"), "\(result.stdout)")
        #expect(result.stdout.contains("PASS initdata: none delivered"), "\(result.stdout)")
        #expect(result.stdout.contains("WARN TEE interfaces: not checked"), "\(result.stdout)")

        let empty = NSTemporaryDirectory() + "empty-root-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let snp = try CommandResult.run(
            "aactl", ["doctor", "--socket", socket, "--initdata", "/nonexistent", "--tee", "snp", "--root", empty])
        #expect(snp.stdout.contains("FAIL SNP reports: neither configfs-tsm"), "\(snp.stdout)")
        #expect(snp.stdout.contains("fix: load the sev-guest driver"), "\(snp.stdout)")
    }
}
