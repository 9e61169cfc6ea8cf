import Crypto
import Foundation
import TestSupport
import Testing

/// `aactl doctor` against the real agent, a Booting one and none.
@Suite struct DoctorCommandTests {
    static func document(kbs: String) -> String {
        "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"\(kbs)\"\n'''\n"
    }

    @Test func aHealthyAgentPassesAndSaysWhatItSaw() async throws {
        let kbs = try await TestKBS()
        let document = Self.document(kbs: kbs.url)
        let digest = SHA384.hash(data: Data(document.utf8)).map { String(format: "%02x", $0) }.joined()
        let agent = try AgentProcess(initdata: document, environment: ["AA_SAMPLE_INITDATA": digest])
        await (try agent.waitUntilListening()).close()
        let options = ["--socket", "unix://" + agent.socketPath, "--initdata", agent.directory + "/initdata.toml"]

        let text = try CommandResult.run("aactl", ["doctor"] + options)
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.hasPrefix("PASS agent: Configured on unix://\(agent.socketPath)") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("WARN TEE: ") }, "the sample TEE proves nothing")
        #expect(lines.contains { $0.hasPrefix("PASS initdata: ") && $0.contains(digest) }, "\(text.stdout)")
        #expect(
            lines.contains { $0.hasPrefix("PASS KBS: \(kbs.url)/kbs/v0/auth answered a challenge") }, "\(text.stdout)")
        #expect(
            kbs.requests.contains { ($0["body"] as? String)?.contains(#""version":"0.4.0","tee":"sample""#) == true },
            "the challenge asked as the agent asks it, for its TEE")

        let token = try CommandResult.run("aactl", ["doctor", "--token"] + options)
        #expect(token.stdout.contains("PASS token: GetToken kbs answered a token in "), "\(token.stdout)")

        let json = try CommandResult.run("aactl", ["doctor", "--json"] + options)
        #expect(json.status == 0)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(parsed["ok"] as? Bool == true)
        let checks = try #require(parsed["checks"] as? [[String: Any]])
        #expect(
            checks.map { $0["outcome"] as? String }
                == lines.filter { !$0.hasPrefix(" ") }.map { String($0.prefix(4)).lowercased() })
    }

    /// The KBS lines (and their fixes) alone, for a configuration given with --config.
    static func kbsLine(_ aaToml: String) throws -> String {
        let folder = try TemporaryFolder("doctor")
        try aaToml.write(toFile: folder.path + "/aa.toml", atomically: true, encoding: .utf8)
        let result = try CommandResult.run(
            "aactl",
            [
                "doctor", "--socket", "unix://\(folder.path)/none.sock", "--initdata", folder.path + "/none.toml",
                "--config",
                folder.path + "/aa.toml",
            ])
        return result.stdout.split(separator: "\n").drop { !$0.contains(" KBS") }.joined(separator: "\n")
    }

    @Test func theKBSCheckPassesWarnsAndFails() async throws {
        let kbs = try await TestKBS()
        let answered = try Self.kbsLine("[token_configs.kbs]\nurl = \"\(kbs.url)/\"\n")
        #expect(answered.hasPrefix("PASS KBS address: 127.0.0.1 is an address"), "\(answered)")
        #expect(answered.contains("PASS KBS connection: TCP to 127.0.0.1:\(kbs.port) in "), "\(answered)")
        #expect(answered.contains("PASS KBS: \(kbs.url)/kbs/v0/auth answered a challenge"), "\(answered)")
        let named = try Self.kbsLine("[token_configs.kbs]\nurl = \"http://localhost:\(kbs.port)\"\n")
        #expect(named.hasPrefix("PASS KBS address: localhost resolves to "), "\(named)")

        let older = try await TestKBS(["--protocol", "0.1.0"])
        let refused = try Self.kbsLine("[token_configs.kbs]\nurl = \"\(older.url)\"\n")
        #expect(refused.contains("FAIL KBS: the KBS at \(older.url) failed the auth with HTTP 400"), "\(refused)")
        #expect(refused.contains("fix: use a KBS that speaks trustee's KBS protocol 0.4.0"), "\(refused)")

        let closed = try Self.kbsLine("[token_configs.kbs]\nurl = \"http://127.0.0.1:9\"\n")
        #expect(closed.contains("FAIL KBS connection: no TCP connection to 127.0.0.1:9"), "\(closed)")
        #expect(!closed.contains(" KBS: "), "no challenge without a connection")

        let unnamed = try Self.kbsLine("[token_configs.kbs]\nurl = \"http://no-such-kbs.invalid\"\n")
        #expect(unnamed.hasPrefix("FAIL KBS address: no-such-kbs.invalid does not resolve"), "\(unnamed)")
        #expect(unnamed.contains("fix: check the guest's DNS"), "\(unnamed)")

        let unconfigured = try Self.kbsLine("[log]\nlevel = \"info\"\n")
        #expect(
            unconfigured.hasPrefix("WARN KBS: ") && unconfigured.contains("has no [token_configs.kbs]"),
            "\(unconfigured)")
    }

    /// One configuration, read by the agent and by doctor with the same code:
    /// the same file, in TOML and in JSON, gives the agent a token and doctor a
    /// PASS from the same KBS, and the two ask for the challenge with the same
    /// request body (trustee's KBS is the judge of both).
    @Test func theAgentAndDoctorReadTheSameConfiguration() async throws {
        let kbs = try await TestKBS()
        let folder = try TemporaryFolder("doctor-same")
        let files = [
            ("aa.toml", "[token_configs.kbs]\nurl = \"\(kbs.url)\"\ntee_key_algorithm = \"ECDH-ES+A256KW-P521\"\n"),
            (
                "aa.json",
                #"{"token_configs": {"kbs": {"url": "\#(kbs.url)", "tee_key_algorithm": "ECDH-ES+A256KW-P521"}}}"#
            ),
        ]
        func authBody(after count: Int) -> String? {
            kbs.requests.dropFirst(count).first { $0["path"] as? String == "/kbs/v0/auth" }?["body"] as? String
        }
        for (name, text) in files {
            let path = folder.path + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let beforeAgent = kbs.requests.count
            let agent = try AgentProcess(["-c", path])
            await (try agent.waitUntilListening()).close()
            let token = try CommandResult.run(
                "aactl", ["get-token", "--type", "kbs", "--socket", "unix://" + agent.socketPath])
            #expect(token.status == 0, "\(name): \(token.stdout)\(token.stderr)")
            let agentAsked = authBody(after: beforeAgent)

            let beforeDoctor = kbs.requests.count
            let doctor = try CommandResult.run(
                "aactl",
                [
                    "doctor", "--socket", "unix://\(folder.path)/none.sock", "--initdata", folder.path + "/none.toml",
                    "--tee", "sample", "--config", path,
                ])
            #expect(
                doctor.stdout.contains("PASS KBS: \(kbs.url)/kbs/v0/auth answered a challenge"),
                "\(name): \(doctor.stdout)")
            let doctorAsked = authBody(after: beforeDoctor)
            #expect(
                agentAsked != nil && agentAsked == doctorAsked,
                "\(name): the agent asked \(agentAsked ?? "nothing"), doctor \(doctorAsked ?? "nothing")")
        }

        // A JSON configuration without the KBS's URL: refused by both, for the same reason.
        let broken = folder.path + "/broken.json"
        try #"{"token_configs": {"kbs": {"cert": ""}}}"#.write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try AgentProcess(["-c", broken])
        #expect(await refused.waitForExit() == 1)
        #expect(refused.stderr.contains("token_configs.kbs.url"), "\(refused.stderr)")
        let doctor = try CommandResult.run(
            "aactl",
            [
                "doctor", "--socket", "unix://\(folder.path)/none.sock", "--initdata", folder.path + "/none.toml",
                "--tee", "sample", "--config", broken,
            ])
        #expect(
            doctor.stdout.contains("FAIL KBS: ") && doctor.stdout.contains("token_configs.kbs.url"), "\(doctor.stdout)")
    }

    @Test func theKBSCheckTellsTLSApart() async throws {
        let folder = try TemporaryFolder("doctor-tls")
        let pair = try TestKBS.selfSignedCertificate(in: folder.path, name: "kbs")
        let kbs = try await TestKBS(tls: pair)
        let pem = try String(contentsOfFile: pair.cert, encoding: .utf8)
        let pinned = try Self.kbsLine("[token_configs.kbs]\nurl = \"\(kbs.url)\"\ncert = '''\n\(pem)'''\n")
        #expect(pinned.contains("PASS KBS: \(kbs.url)/kbs/v0/auth"), "\(pinned)")
        let untrusted = try Self.kbsLine("[token_configs.kbs]\nurl = \"\(kbs.url)\"\n")
        #expect(
            untrusted.contains(
                "FAIL KBS: cannot reach the KBS at \(kbs.url)/kbs/v0/auth: the TLS handshake failed: the server's certificate does not verify against the trusted roots"
            ), "\(untrusted)")
        #expect(
            untrusted.contains("fix: put the KBS's certificate, or its CA's (PEM), in [token_configs.kbs] cert"),
            "\(untrusted)")
    }

    @Test func theTokenCheckSaysTheKBSsReason() async throws {
        let kbs = try await TestKBS(["--deny", "the policy refuses this evidence"])
        let connected = try await TokenTests.configuredAgent("[token_configs.kbs]\nurl = \"\(kbs.url)\"\n")
        let result = try CommandResult.run(
            "aactl",
            [
                "doctor", "--token", "--socket", "unix://" + connected.agent.socketPath, "--initdata",
                connected.agent.directory + "/none.toml",
            ])
        #expect(result.status == 1)
        #expect(
            result.stdout.contains("PASS KBS: \(kbs.url)/kbs/v0/auth answered a challenge"),
            "the KBS the agent holds (set by UpdateConfiguration, in no file) is checked: \(result.stdout)")
        #expect(result.stdout.contains("FAIL token: GetToken kbs failed: PERMISSION_DENIED"), "\(result.stdout)")
        #expect(result.stdout.contains("the policy refuses this evidence"), "\(result.stdout)")
        await connected.close()
    }

    /// A Rejected agent: the digest offered and the field it was compared
    /// with, side by side, on the agent's line (both are needed to find
    /// which document the host used).
    @Test func aRejectedAgentShowsBothValues() async throws {
        let field = String(repeating: "ee", count: 64)
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": field])
        let client = try await agent.waitUntilListening()
        do {
            try await client.bind([UInt8](repeating: 0x11, count: 48))
            Issue.record("a digest that is not the field was bound")
        } catch {}
        let status = try await client.status()
        #expect(status.state == "Rejected")
        #expect(status.initDataField == field)
        await client.close()
        let result = try CommandResult.run(
            "aactl", ["doctor", "--socket", "unix://" + agent.socketPath, "--initdata", agent.directory + "/none.toml"])
        #expect(result.status == 1)
        let digest = String(repeating: "11", count: 48)
        #expect(
            result.stdout.contains("FAIL agent: Rejected") && result.stdout.contains(digest)
                && result.stdout.contains("(\(field))"), "\(result.stdout)")
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

        let emptyFolder = try TemporaryFolder("empty-root")
        let snp = try CommandResult.run(
            "aactl",
            ["doctor", "--socket", socket, "--initdata", "/nonexistent", "--tee", "snp", "--root", emptyFolder.path])
        #expect(snp.stdout.contains("FAIL SNP reports: neither configfs-tsm"), "\(snp.stdout)")
        #expect(snp.stdout.contains("fix: load the sev-guest driver"), "\(snp.stdout)")
    }
}
