import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import TestSupport
import Testing

/// Tests/Azure/paravisor.py against a swtpm: Azure's paravisor (an
/// attestation key at 0x81000003, an HCL report in NV index 0x01400001 that
/// follows NV index 0x01400002) and its instance metadata service on loopback.
final class AzureParavisor: @unchecked Sendable {
    private let child: ChildProcess
    let port: Int
    let recordPath: String

    var imdsURL: String { "http://127.0.0.1:\(port)" }

    init(tpm: SoftwareTPM, tee: String, options: [String] = []) throws {
        recordPath = tpm.directory + "/imds-requests.jsonl"
        let errors = tpm.directory + "/paravisor.log"
        let output = Pipe()
        child = try ChildProcess(
            [
                "/usr/bin/python3", PackagePaths.root + "/Tests/Azure/paravisor.py", "--tcti", tpm.tcti, "--tee", tee,
                "--record", recordPath, "--workdir", tpm.directory + "/paravisor",
            ] + options, inheriting: true, stderrPath: errors, stdout: output)
        self.port = try TestKBS.listeningPort(output, what: "the paravisor", log: errors)
    }

    /// Every request the metadata service received, in order.
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// Azure confidential VMs (az-snp-vtpm, az-tdx-vtpm) through the real binary:
/// detection, PCR 8, evidence checked by Tests/Oracles/azure_vtpm.py (trustee's
/// rules) and by a KBS that applies them, and every way the platform fails.
@Suite(
    .enabled(
        if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "swtpm is not installed (Scripts/install-deps.sh --test)"), .tags(.swtpm))
struct AzureVTPMTests {
    /// A simulated Azure VM and the agent launched in it with initdata (SHA-256).
    struct Machine {
        let tpm: SoftwareTPM
        let paravisor: AzureParavisor
        let agent: AgentProcess
        let client: TTRPCClient
        let initDataDigest: [UInt8]
    }

    static func launch(
        _ tee: String, paravisor options: [String] = [], imdsURL: String? = nil, aaToml: String = ""
    ) async throws -> Machine {
        let tpm = try await SoftwareTPM()
        let paravisor = try AzureParavisor(tpm: tpm, tee: tee, options: options)
        let document = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = '''\n\(aaToml)'''\n"
        let agent = try AgentProcess(
            initdata: document,
            environment: ["AA_TPM_TCTI": tpm.tcti, "AA_AZURE_IMDS_URL": imdsURL ?? paravisor.imdsURL])
        let client = try await agent.waitUntilListening()
        return Machine(
            tpm: tpm, paravisor: paravisor, agent: agent, client: client,
            initDataDigest: Array(SHA256.hash(data: Data(document.utf8))))
    }

    static func evidence(_ client: TTRPCClient, _ reportData: [UInt8], timeout: Double = 20) async throws -> [UInt8] {
        let response: GetEvidenceResponse = try await client.call(
            .getEvidence, GetEvidenceRequest(runtimeData: reportData), timeout: timeout)
        return response.evidence
    }

    /// The oracle's verdict on `evidence`: nil when every rule holds.
    static func brokenRule(
        _ evidence: Data, tee: String, reportData: [UInt8], initDataDigest: [UInt8], in directory: String
    ) throws -> String? {
        let path = directory + "/evidence-\(UUID().uuidString.prefix(6)).json"
        try evidence.write(to: URL(fileURLWithPath: path))
        let result = try Oracle.run(
            "azure_vtpm.py",
            [path, "--tee", tee, "--report-data", reportData.hex, "--init-data-digest", initDataDigest.hex])
        return result.status == 0 ? nil : result.output
    }

    @Test(arguments: ["az-snp-vtpm", "az-tdx-vtpm"])
    func evidenceHoldsToTrusteesRules(_ tee: String) async throws {
        let machine = try await Self.launch(tee == "az-snp-vtpm" ? "snp" : "tdx")
        let status = try await machine.client.status()
        #expect(status.tee == tee)
        #expect(status.binding == "measured")
        #expect(status.state == "Configured")

        // Two calls with other report data: the HCL report must follow each.
        for reportData in [[UInt8](repeating: 0xA5, count: 48), (0..<32).map { UInt8($0) }] {
            let evidence = Data(try await Self.evidence(machine.client, reportData))
            let broken = try Self.brokenRule(
                evidence, tee: tee, reportData: reportData, initDataDigest: machine.initDataDigest,
                in: machine.tpm.directory)
            #expect(broken == nil, "\(broken ?? "")")
        }

        // Calls at once: each waits for the NV index, so each HCL report is its own.
        let concurrent = try await withThrowingTaskGroup(of: ([UInt8], Data).self) { group in
            for round in 0..<3 {
                let reportData = [UInt8](repeating: UInt8(0x10 + round), count: 40)
                group.addTask { (reportData, Data(try await Self.evidence(machine.client, reportData))) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (reportData, evidence) in concurrent {
            let broken = try Self.brokenRule(
                evidence, tee: tee, reportData: reportData, initDataDigest: machine.initDataDigest,
                in: machine.tpm.directory)
            #expect(broken == nil, "concurrent: \(broken ?? "")")
        }

        // The oracle can fail: a PCR changed after the quote breaks rule 4.
        let reportData = [UInt8](repeating: 7, count: 64)
        let evidence = Data(try await Self.evidence(machine.client, reportData))
        var json = try #require(try JSONSerialization.jsonObject(with: evidence) as? [String: Any])
        if tee == "az-snp-vtpm" {
            #expect(json["cc_eventlog"] is NSNull, "no measurement yet, no CCEL: null, as upstream")
        } else {
            #expect(json["cc_eventlog"] == nil, "upstream's az-tdx-vtpm evidence carries no event log")
        }
        var quote = try #require(json["tpm_quote"] as? [String: Any])
        var pcrs = try #require(quote["pcrs"] as? [String])
        pcrs[3] = String(repeating: "ff", count: 32)
        quote["pcrs"] = pcrs
        json["tpm_quote"] = quote
        let tampered = try JSONSerialization.data(withJSONObject: json)
        let verdict = try Self.brokenRule(
            tampered, tee: tee, reportData: reportData, initDataDigest: machine.initDataDigest,
            in: machine.tpm.directory)
        #expect(verdict?.contains("PCR digest") == true, "\(verdict ?? "passed")")

        // What the metadata service was asked, with the header Azure requires.
        let requests = machine.paravisor.requests
        #expect(requests.count == 6)
        #expect(requests.allSatisfy { $0["metadata"] as? String == "true" })
        if tee == "az-tdx-vtpm" {
            #expect(
                requests.allSatisfy { $0["path"] as? String == "/acc/tdquote" && $0["method"] as? String == "POST" })
            // The TD report sent is the HCL report's hardware report, as upstream sends it.
            let hcl = try #require((json["hcl_report"] as? String).flatMap { Data(base64URL: $0) })
            let body = try #require(requests.last?["body"] as? String)
            let sent = try #require(
                (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])?["report"])
            #expect(Data(base64URL: sent) == hcl.subdata(in: 32..<(32 + 1024)))
        } else {
            #expect(
                requests.allSatisfy {
                    $0["path"] as? String == "/metadata/THIM/amd/certification" && $0["method"] as? String == "GET"
                })
        }
        // aactl doctor reads the same evidence as trustee would.
        let doctor = try CommandResult.run(
            "aactl",
            [
                "doctor", "--socket", "unix://\(machine.agent.socketPath)", "--initdata",
                machine.agent.directory + "/initdata.toml", "--root", machine.agent.directory + "/root",
            ])
        #expect(doctor.status == 0, "\(doctor.stdout)")
        for line in [
            "PASS evidence report data", "PASS evidence init-data: PCR 8", "WARN TPM: no /dev/tpmrm0",
            "PASS TPM attestation key",
            "PASS initdata algorithm: sha256 on \(tee)",
        ] {
            #expect(doctor.stdout.contains(line), "\(line): \(doctor.stdout)")
        }

        await machine.client.close()
        withExtendedLifetime(machine) {}
    }

    /// az-snp-vtpm evidence carries the agent's event log, as upstream's
    /// since 2026, and trustee replays each PCR it names against the quote
    /// (PCRs 17-22 from 0xFF, the others from zero). PCR 23 is the one the
    /// OS may extend on Azure: the default init_pcr 17 is refused there.
    @Test func runtimeMeasurementsReplayFromTheEvidence() async throws {
        let kbs = try await TestKBS()
        let machine = try await Self.launch(
            "snp",
            aaToml:
                "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n[eventlog_config]\nenable_eventlog = true\ninit_pcr = 23\n")
        let events: [(String, UInt64?)] = [
            ("pull image-a", nil), ("pull image-b", nil), ("debug note", 16), ("pull image-c", nil),
        ]
        for (content, index) in events {
            let result = try await machine.client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(
                    domain: "github.com/confidential-containers", operation: "PullImage", content: content,
                    registerIndex: index),
                as: ExtendRuntimeMeasurementResponse.self)
            #expect(result.result == .ok, "\(content)")
        }
        let refused = try await machine.client.call(
            .extendRuntimeMeasurement,
            ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c", registerIndex: 17),
            as: ExtendRuntimeMeasurementResponse.self)
        #expect(refused.result == .notSupported, "PCR 17 needs locality 4: not an error, the CDH would fail its pull")

        let reportData = [UInt8](repeating: 0x3C, count: 48)
        let evidence = Data(try await Self.evidence(machine.client, reportData))
        let path = machine.tpm.directory + "/evidence-with-log.json"
        try evidence.write(to: URL(fileURLWithPath: path))
        let texts = events.map { "github.com/confidential-containers PullImage \($0.0)" }
        let replay = try Oracle.run("vtpm_eventlog.py", [path] + texts)
        #expect(replay.status == 0, "\(replay.stdout)")
        #expect(replay.stdout.contains("\"registers\": [16, 23]"), "\(replay.stdout)")
        let broken = try Self.brokenRule(
            evidence, tee: "az-snp-vtpm", reportData: reportData, initDataDigest: machine.initDataDigest,
            in: machine.tpm.directory)
        #expect(broken == nil, "\(broken ?? "")")

        // The replay can fail: PCR 23 extended behind the agent's back.
        #expect(try machine.tpm.tool("tpm2_pcrextend", ["23:sha256=" + String(repeating: "ab", count: 32)]).status == 0)
        let after = Data(try await Self.evidence(machine.client, reportData))
        try after.write(to: URL(fileURLWithPath: path))
        let unlogged = try Oracle.run("vtpm_eventlog.py", [path])
        #expect(unlogged.status == 1 && unlogged.stdout.contains("PCR 23 replays to"), "\(unlogged.stdout)")
        await machine.client.close()
        withExtendedLifetime(machine) {}
    }

    /// A KBS that replays the log, as trustee's does, issues a token after measurements.
    @Test func tokenAfterRuntimeMeasurements() async throws {
        let kbs = try await TestKBS()
        let machine = try await Self.launch(
            "snp",
            aaToml:
                "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n[eventlog_config]\nenable_eventlog = true\ninit_pcr = 23\n")
        for content in ["pull image-a", "pull image-b"] {
            let result = try await machine.client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(
                    domain: "d", operation: "PullImage", content: content, registerIndex: nil),
                as: ExtendRuntimeMeasurementResponse.self)
            #expect(result.result == .ok)
        }
        let token = try #require(try await TokenTests.token(machine.client)["token"])
        #expect(try kbs.verifiedClaims(token)?["tee"] as? String == "az-snp-vtpm")
        // A PCR extended without the log: the KBS refuses, as trustee would.
        #expect(try machine.tpm.tool("tpm2_pcrextend", ["23:sha256=" + String(repeating: "cd", count: 32)]).status == 0)
        do {
            _ = try await TokenTests.token(machine.client)
            Issue.record("a token for evidence whose log does not replay")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied && error.message.contains("PCR 23 replays to"), "\(error)")
        }
        await machine.client.close()
        withExtendedLifetime(machine) {}
    }

    @Test(arguments: ["az-snp-vtpm", "az-tdx-vtpm"])
    func tokenFromAKBSThatChecksTheEvidence(_ tee: String) async throws {
        let kbs = try await TestKBS()
        let machine = try await Self.launch(
            tee == "az-snp-vtpm" ? "snp" : "tdx", aaToml: "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n")
        let token = try #require(try await TokenTests.token(machine.client)["token"])
        let claims = try #require(try kbs.verifiedClaims(token))
        #expect(claims["tee"] as? String == tee)
        await machine.client.close()
        withExtendedLifetime(machine) {}
    }

    /// Each way an Azure VM fails, its status and a message that names the cause.
    @Test(
        arguments: [
            (["--no-ak"], StatusCode.failedPrecondition, "no attestation key at persistent handle 0x81000003"),
            (["--stale"], .unavailable, "did not copy the report data from NV index 0x01400002"),
            (["--malformed"], .unavailable, "the HCL report in NV index 0x01400001 is malformed"),
            (["--vanish"], .unavailable, "the HCL report's NV index 0x01400001 is no longer defined"),
            (["--imds-status", "500"], .unavailable, "/metadata/THIM/amd/certification answered 500"),
            (["--imds-status", "404"], .unavailable, "/metadata/THIM/amd/certification answered 404"),
        ])
    func failuresNameTheirCause(_ options: [String], _ code: StatusCode, _ message: String) async throws {
        let machine = try await Self.launch("snp", paravisor: options)
        do {
            _ = try await Self.evidence(machine.client, [1, 2, 3])
            Issue.record("evidence with \(options)")
        } catch let error as TTRPCError {
            #expect(error.code == code)
            #expect(error.message.contains(message), "\(error.message)")
        }
        if options == ["--imds-status", "500"] {
            #expect(machine.paravisor.requests.count == 3, "a 5xx answer is asked again, three times in all")
        }
        if options == ["--imds-status", "404"] {
            #expect(machine.paravisor.requests.count == 1, "a 4xx answer is final")
        }
        #expect(try await machine.client.status().tee == "az-snp-vtpm", "the agent keeps serving")
        await machine.client.close()
        withExtendedLifetime(machine) {}
    }

    @Test func metadataServiceDownOrSlow() async throws {
        let down = try await Self.launch("tdx", imdsURL: "http://127.0.0.1:1")
        do {
            _ = try await Self.evidence(down.client, [1, 2, 3])
            Issue.record("evidence without a metadata service")
        } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("cannot reach the metadata service at http://127.0.0.1:1/acc/tdquote"))
        }
        await down.client.close()
        withExtendedLifetime(down) {}

        // Slower than the caller's deadline: the call ends at the deadline, the agent goes on.
        let slow = try await Self.launch("snp", paravisor: ["--imds-delay", "6"])
        let started = Date()
        do {
            _ = try await Self.evidence(slow.client, [1, 2, 3], timeout: 2)
            Issue.record("evidence from a metadata service slower than the deadline")
        } catch let error as TTRPCError {
            #expect(error.code == .deadlineExceeded)
        }
        #expect(Date().timeIntervalSince(started) < 5 * TestBudget.timeScale)
        #expect(try await slow.client.status().tee == "az-snp-vtpm")
        await slow.client.close()
        withExtendedLifetime(slow) {}
    }

    @Test func reportDataMustFitTheQuote() async throws {
        let machine = try await Self.launch("snp")
        for size in [0, 65] {
            do {
                _ = try await Self.evidence(machine.client, [UInt8](repeating: 1, count: size))
                Issue.record("\(size) bytes of report data")
            } catch let error as TTRPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("report data is 1 to 64 bytes"), "\(error.message)")
            }
        }
        await machine.client.close()
        withExtendedLifetime(machine) {}
    }
}
