import Foundation
import TestSupport
import Testing

/// `aactl` against the real agent: output, errors and exit statuses.
@Suite struct AactlTests {
    @Test func callsPrintJSONAndErrorsExitOne() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": "beef"])
        await (try agent.waitUntilListening()).close()
        let socket = ["--socket", "unix://" + agent.socketPath]

        let status = try CommandResult.run("aactl", ["status"] + socket)
        #expect(status.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: String]
        #expect(json?["state"] == "Booting")
        #expect(json?["tee"] == "sample")

        let tee = try CommandResult.run("aactl", ["get-tee-type"] + socket)
        #expect(tee.stdout.contains(#""tee": "sample""#))

        let evidence = try CommandResult.run("aactl", ["get-evidence", "--runtime-data", "010203"] + socket)
        #expect(evidence.status == 0)
        #expect(evidence.stdout.contains(#""report_data": "AQID""#), "\(evidence.stdout)")

        let token = try CommandResult.run("aactl", ["get-token", "--type", "kbs"] + socket)
        #expect(token.status == 1)
        #expect(token.stderr.hasPrefix("FAILED_PRECONDITION (9): "), "\(token.stderr)")
        #expect(token.stdout.isEmpty)

        let wrong = try CommandResult.run("aactl", ["bind-init-data", "--digest", "dead"] + socket)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.hasPrefix("PERMISSION_DENIED (7): initdata digest dead00"))

        let measurement = try CommandResult.run(
            "aactl",
            [
                "extend-runtime-measurement", "--domain", "d", "--operation", "o", "--content", "c", "--register-index",
                "17",
            ] + socket)
        #expect(measurement.stdout.contains(#""result": "NOT_ENABLED""#))
    }

    @Test func configurationFromAFileAndTheFullFlow() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": "beef"])
        await (try agent.waitUntilListening()).close()
        let socket = ["--socket", "unix://" + agent.socketPath]
        #expect(try CommandResult.run("aactl", ["check-init-data", "--digest", "beef"] + socket).status == 0)
        let path = agent.directory + "/aa.toml"
        try "[token_configs.kbs]\nurl = \"http://127.0.0.1:1\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try CommandResult.run("aactl", ["update-configuration", "--config-file", path] + socket).status == 0)
        let status = try CommandResult.run("aactl", ["status"] + socket)
        #expect(status.stdout.contains(#""state": "Configured""#))
        let again = try CommandResult.run("aactl", ["update-configuration", "--config", ""] + socket)
        #expect(again.status == 1)
        #expect(again.stderr.hasPrefix("FAILED_PRECONDITION (9)"))
    }

    /// `a=` and 200,000 `[` then as many `]` once overflowed the agent's
    /// stack in the TOML parser (issue 9): now a clear INVALID_ARGUMENT, and
    /// the agent goes on serving. The same text can come inside initdata.
    @Test func aDeeplyNestedConfigurationIsRefusedAndTheAgentLivesOn() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": "beef"])
        await (try agent.waitUntilListening()).close()
        let socket = ["--socket", "unix://" + agent.socketPath]
        #expect(try CommandResult.run("aactl", ["bind-init-data", "--digest", "beef"] + socket).status == 0)
        let path = agent.directory + "/deep.toml"
        try ("a=" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let refused = try CommandResult.run("aactl", ["update-configuration", "--config-file", path] + socket)
        #expect(refused.status == 1)
        #expect(
            refused.stderr.hasPrefix("INVALID_ARGUMENT (3)") && refused.stderr.contains("nested deeper than 64"),
            "\(refused.stderr)")
        let status = try CommandResult.run("aactl", ["status"] + socket)
        #expect(status.status == 0, "the agent still serves")
        #expect(status.stdout.contains(#""state": "InitDataVerified""#))
    }

    @Test func transportErrorsExitTwoAndUsageErrorsSayWhy() throws {
        let missing = try CommandResult.run("aactl", ["status", "--socket", "unix:///nonexistent/aa.sock"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot connect to unix:///nonexistent/aa.sock"))

        let badHex = try CommandResult.run(
            "aactl", ["bind-init-data", "--digest", "xyz", "--socket", "unix:///nonexistent"])
        #expect(badHex.status == 64)
        #expect(badHex.stderr.contains("is not hex"))
    }

    @Test(arguments: [
        // sha384 of Tests/Fixtures/initdata/initdata.toml (Python hashlib), fitted to each field.
        ("tdx", "dd231ad281fc696205353702aee9453d59249da6bb8ef154e8ad6030da8b947bb55b44889eb8e965df46a682513060dc"),
        ("snp", "dd231ad281fc696205353702aee9453d59249da6bb8ef154e8ad6030da8b947b"),
        (
            "cca",
            "dd231ad281fc696205353702aee9453d59249da6bb8ef154e8ad6030da8b947bb55b44889eb8e965df46a682513060dc"
                + String(repeating: "00", count: 16)
        ),
    ])
    func initDataDigestForEachField(_ tee: String, _ expected: String) throws {
        let result = try CommandResult.run(
            "aactl", ["initdata", "digest", PackagePaths.fixtures + "/initdata/initdata.toml", "--tee", tee])
        #expect(result.status == 0)
        #expect(result.stdout == expected + "\n")
    }

    @Test func inspectShowsTheInitDataField() throws {
        let result = try CommandResult.run("aactl", ["inspect", PackagePaths.fixtures + "/reports/snp-report-v3.bin"])
        #expect(result.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String]
        #expect(json?["tee"] == "snp")
        #expect(json?["format"] == "SNP report v3")
        // HOST_DATA as Scripts/make-report-fixtures.py wrote it.
        #expect(json?["init_data_field"] == "848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d")

        let garbage = try CommandResult.run("aactl", ["inspect", PackagePaths.fixtures + "/initdata/initdata.toml"])
        #expect(garbage.status == 1)
        #expect(garbage.stderr.contains("not a TDX quote"))
    }

    /// The value a host hands QEMU (`mrconfigid=`, `host-data=`) and kata:
    /// the document's digest cut or zero-padded to the TEE's length (kata's
    /// adjust_digest: TDX 48, SNP 32, CCA 64, SE 256), standard base64;
    /// computed here by Python's hashlib and base64.
    @Test(arguments: [("tdx", 48), ("snp", 32), ("cca", 64), ("se", 256)])
    func initDataDigestInBase64AsKataTakesIt(_ tee: String, _ length: Int) throws {
        let path = PackagePaths.fixtures + "/initdata/initdata.toml"
        let script = [
            "import base64, hashlib, sys, tomllib",
            "data = open(sys.argv[1], 'rb').read()",
            "digest = hashlib.new(tomllib.loads(data.decode())['algorithm'], data).digest()",
            "n = int(sys.argv[2])",
            "print(base64.b64encode(digest[:n] + bytes(max(0, n - len(digest)))).decode())",
        ].joined(separator: "\n")
        let expected = try CommandResult.run(path: "/usr/bin/python3", ["-c", script, path, "\(length)"])
        #expect(expected.status == 0, "\(expected.stderr)")
        let result = try CommandResult.run("aactl", ["initdata", "digest", path, "--tee", tee, "--base64"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected.stdout)
    }

    @Test func initDataDigestRefusesBadInput() throws {
        let badTEE = try CommandResult.run(
            "aactl", ["initdata", "digest", PackagePaths.fixtures + "/initdata/initdata.toml", "--tee", "sev"])
        #expect(badTEE.status != 0)
        #expect(badTEE.stderr.contains("--tee must be one of tdx, snp, sgx, cca, se"))
        let path = NSTemporaryDirectory() + "bad-initdata-\(getpid()).toml"
        try "version = \"0.1.0\"\nalgorithm = \"md5\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let badDocument = try CommandResult.run("aactl", ["initdata", "digest", path, "--tee", "tdx"])
        #expect(badDocument.status == 1)
        #expect(badDocument.stderr.contains("md5"))
    }
}
