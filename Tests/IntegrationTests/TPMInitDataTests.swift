import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import Testing

/// PCR 8 as the init-data field on a (v)TPM, against swtpm: the value
/// trustee's TPM verifier expects is SHA-256(0^32 || sha256 digest), computed
/// here from that rule; tpm2_pcrread reads what the TPM holds.
@Suite(
    .enabled(
        if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "swtpm is not installed (Scripts/install-deps.sh --test)"), .tags(.swtpm))
struct TPMInitDataTests {
    static let zero = String(repeating: "0", count: 64)

    /// An initdata document in `directory`, and the PCR 8 value trustee expects for it.
    static func initdata(
        in directory: String, algorithm: String = "sha256", marker: String = "a"
    )
        throws -> (path: String, pcr8: String)
    {
        let text =
            "version = \"0.1.0\"\nalgorithm = \"\(algorithm)\"\n[data]\n\"aa.toml\" = '''\n[log]\nlevel = \"info\"\n'''\n\"cdh.toml\" = \"# \(marker)\"\n"
        let path = directory + "/initdata-\(marker)-\(algorithm).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let digest = Data(SHA256.hash(data: Data(text.utf8)))
        let pcr8 = SHA256.hash(data: Data(count: 32) + digest).map { String(format: "%02x", $0) }.joined()
        return (path, pcr8)
    }

    @Test func withoutInitDataAZeroPCR8IsAbsent() async throws {
        let tpm = try await SoftwareTPM()
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.state == "InitDataVerified", "kata and the CDH get tokens on a TPM guest without initdata")
        #expect(status.binding == "absent")
        #expect(try tpm.pcr(8) == Self.zero, "nothing is extended")
        await client.close()
        #expect(!agent.stderr.contains("WARNING:esys"), "tpm2-tss's own log stays quiet: \(agent.stderr)")
    }

    @Test func launchBindingExtendsOnceAndARestartDoesNotExtendAgain() async throws {
        let tpm = try await SoftwareTPM()
        let document = try Self.initdata(in: tpm.directory)
        for round in 1...2 {
            let agent = try AgentProcess(["--initdata-toml", document.path], environment: ["AA_TPM_TCTI": tpm.tcti])
            let client = try await agent.waitUntilListening()
            let status = try await client.status()
            #expect(status.state == "Configured", "round \(round): initdata's aa.toml applies")
            #expect(status.binding == "measured")
            #expect(try tpm.pcr(8) == document.pcr8, "round \(round): PCR 8 holds trustee's value, extended once")
            await client.close()
            agent.signal(SIGTERM)
            #expect(await agent.waitForExit() == 0, "round \(round): \(agent.stderr)")
        }

        let other = try Self.initdata(in: tpm.directory, marker: "b")
        let mismatch = try AgentProcess(["--initdata-toml", other.path], environment: ["AA_TPM_TCTI": tpm.tcti])
        #expect(await mismatch.waitForExit() == 1)
        #expect(mismatch.stderr.contains(document.pcr8) && mismatch.stderr.contains(other.pcr8), "\(mismatch.stderr)")
        #expect(try tpm.pcr(8) == document.pcr8)
    }

    @Test func initDataThatTrusteeCannotCheckOnATPMIsRefusedAtLaunch() async throws {
        let tpm = try await SoftwareTPM()
        let document = try Self.initdata(in: tpm.directory, algorithm: "sha384")
        let agent = try AgentProcess(["--initdata-toml", document.path], environment: ["AA_TPM_TCTI": tpm.tcti])
        #expect(await agent.waitForExit() == 1)
        #expect(agent.stderr.contains("algorithm = \"sha256\""), "\(agent.stderr)")
        #expect(try tpm.pcr(8) == Self.zero)
    }

    /// PCR 8 as GRUB leaves it: its command line measured there (the UAPI
    /// PCR registry), before the agent starts.
    static func extendAsGRUB(_ tpm: SoftwareTPM) throws -> String {
        let digest = SHA256.hash(data: Data("grub_cmd: linux /vmlinuz root=/dev/vda1".utf8))
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        #expect(try tpm.tool("tpm2_pcrextend", ["8:sha256=" + hex]).status == 0)
        return try tpm.pcr(8)
    }

    /// Without initdata a PCR 8 the boot chain wrote blocks nothing: verified
    /// with no binding, one warning naming the value, tokens as upstream
    /// gives them; the same after a kill -9 and a restart.
    @Test func aPCR8TheBootChainWroteDoesNotBlockWithoutInitData() async throws {
        let tpm = try await SoftwareTPM()
        try tpm.provisionAttestationKey()
        let grub = try Self.extendAsGRUB(tpm)
        let kbs = try await TestKBS()
        let config = tpm.directory + "/aa.toml"
        try "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        for round in 1...2 {
            let agent = try AgentProcess(["-c", config], environment: ["AA_TPM_TCTI": tpm.tcti])
            let client = try await agent.waitUntilListening()
            let status = try await client.status()
            #expect(status.state == "Configured", "round \(round)")
            #expect(status.binding == "unbound", "round \(round)")
            let token = String(decoding: try await client.token("kbs"), as: UTF8.self)
            #expect(token.contains("\"token\""), "round \(round): the gate lets GetToken through: \(token)")
            #expect(
                agent.stderr.components(separatedBy: "already holds \(grub)").count == 2, "one warning: \(agent.stderr)"
            )
            #expect(agent.stderr.contains("GRUB"))
            await client.close()
            agent.signal(SIGKILL)
            _ = await agent.waitForExit()
            #expect(agent.process.terminationReason == .uncaughtSignal, "round \(round): killed, not stopped")
            #expect(try tpm.pcr(8) == grub, "round \(round): PCR 8 is left as the boot chain made it")
        }
        #expect(kbs.requests.filter { ($0["path"] as? String) == "/kbs/v0/attest" }.count == 2)
    }

    /// With initdata, a PCR 8 the boot chain wrote is refused, and the message
    /// names the boot chain and the fix; a restart refuses again.
    @Test func initDataOnAPCR8TheBootChainWroteIsRefused() async throws {
        let tpm = try await SoftwareTPM()
        let grub = try Self.extendAsGRUB(tpm)
        let document = try Self.initdata(in: tpm.directory)
        for round in 1...2 {
            let agent = try AgentProcess(["--initdata-toml", document.path], environment: ["AA_TPM_TCTI": tpm.tcti])
            #expect(await agent.waitForExit() == 1, "round \(round)")
            #expect(agent.stderr.contains(grub) && agent.stderr.contains(document.pcr8), "\(agent.stderr)")
            #expect(agent.stderr.contains("GRUB") && agent.stderr.contains("direct kernel boot"), "\(agent.stderr)")
            #expect(try tpm.pcr(8) == grub, "round \(round): nothing extended")
        }
    }

    /// An agent restarted without initdata after it had bound some: the bind
    /// that reproduces PCR 8 is accepted, another digest is refused for good.
    @Test func aNonZeroPCR8StillAcceptsTheDigestThatReproducesIt() async throws {
        let tpm = try await SoftwareTPM()
        let digest = [UInt8](repeating: 0x5A, count: 32)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        #expect(try tpm.tool("tpm2_pcrextend", ["8:sha256=" + hex]).status == 0)
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().binding == "unbound")
        try await client.bind(digest)
        let status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "measured")
        do {
            try await client.bind([1])
            Issue.record("a digest PCR 8 does not hold was accepted")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied)
        }
        let rejected = try await client.status()
        #expect(rejected.state == "Rejected")
        #expect(rejected.initDataDigest == "01", "GetStatus names the digest offered")
        #expect(rejected.initDataField == (try tpm.pcr(8)), "and what PCR 8 held beside it")
        await client.close()
    }

    @Test func awaitInitDataKeepsTheOldFlow() async throws {
        let tpm = try await SoftwareTPM()
        let agent = try AgentProcess(["--await-initdata"], environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Booting", "waits for the bind")
        let digest = [UInt8](repeating: 0x42, count: 32)
        try await client.bind(digest)
        let expected = SHA256.hash(data: Data(count: 32) + Data(digest)).map { String(format: "%02x", $0) }.joined()
        #expect(try tpm.pcr(8) == expected)
        #expect(try await client.status().binding == "measured")
        try await client.bind(digest)
        #expect(try tpm.pcr(8) == expected, "bound once")
        await client.close()
    }

    @Test func awaitInitDataWithAnEmptyDigestRecordsThatThereIsNone() async throws {
        let tpm = try await SoftwareTPM()
        let agent = try AgentProcess(["--await_initdata"], environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        try await client.bind([])
        let expected = SHA256.hash(data: Data(count: 64)).map { String(format: "%02x", $0) }.joined()
        #expect(try tpm.pcr(8) == expected)
        #expect(try await client.status().state == "InitDataVerified")
        await client.close()
    }
}

/// Which TPM the agent finds: `AA_TPM_DEVICE` as upstream, else
/// /dev/tpmrm0, else /dev/tpm0 (fake device files: detection only).
@Suite struct TPMDeviceTests {
    @Test(
        arguments: [
            (["dev/tpm0"], [:], "tpm"),
            (["dev/tpmrm0"], [:], "tpm"),
            (["dev/vtpm"], ["AA_TPM_DEVICE": "/dev/vtpm"], "tpm"),
            (["dev/tpm0"], ["AA_TPM_DEVICE": "/dev/absent"], "sample"),
            ([], [:], "sample"),
        ] as [([String], [String: String], String)])
    func deviceSelection(_ files: [String], _ environment: [String: String], _ tee: String) async throws {
        let agent = try AgentProcess(
            environment: environment,
            setUp: { directory in
                for file in files {
                    try FileManager.default.createDirectory(
                        atPath: directory + "/root/dev", withIntermediateDirectories: true)
                    try Data().write(to: URL(fileURLWithPath: directory + "/root/" + file))
                }
            })
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().tee == tee)
        await client.close()
    }
}
