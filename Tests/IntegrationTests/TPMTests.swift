import AttestationAgentAPI
import Crypto
import Foundation
import Testing
import TTRPC

/// The real binary against a real software TPM (swtpm), checked with tpm2-tools.
@Suite(.enabled(if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
                "swtpm is not installed (Scripts/install-deps.sh --test)"))
struct TPMTests {
    @Test func bindingExtendsPCR8OnceWithTheDigest() async throws {
        let tpm = try await SoftwareTPM()
        let before = try tpm.pcr(8)
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        var status = try await client.status()
        #expect(status.tee == "tpm")
        #expect(status.state == "Booting", "a TPM has no field to read: wait for the bind")

        let digest = [UInt8](repeating: 0x42, count: 48)
        try await client.bind(digest)
        // SHA-256(old || digest truncated to the bank's 32 bytes), computed here independently.
        let expected = SHA256.hash(data: Data(before.hexBytes!) + Data(digest.prefix(32))).map { String(format: "%02x", $0) }.joined()
        #expect(try tpm.pcr(8) == expected)
        status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "measured")

        try await client.bind(digest)
        do { try await client.bind([1]); Issue.record("a second digest was measured") } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }
        #expect(try tpm.pcr(8) == expected, "bound once")
        await client.close()
    }

    @Test func quoteVerifiesWithTpm2Checkquote() async throws {
        let tpm = try await SoftwareTPM()
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        let reportData: [UInt8] = [0xAA, 0xBB, 0xCC]
        let response: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: reportData))
        let evidence = try #require(try JSONSerialization.jsonObject(with: Data(response.evidence)) as? [String: Any])
        let quote = try #require(evidence["tpm_quote"] as? [String: Any])
        let directory = agent.directory
        try Data(base64Encoded: quote["message"] as! String)!.write(to: URL(fileURLWithPath: directory + "/quote.msg"))
        try Data(base64Encoded: quote["signature"] as! String)!.write(to: URL(fileURLWithPath: directory + "/quote.sig"))
        let der = try #require(Data(base64Encoded: evidence["ak_public"] as! String))
        let pem = "-----BEGIN PUBLIC KEY-----\n" + der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END PUBLIC KEY-----\n"
        try pem.write(toFile: directory + "/ak.pem", atomically: true, encoding: .utf8)

        let qualifying = (reportData + [UInt8](repeating: 0, count: 29)).map { String(format: "%02x", $0) }.joined()
        let check = ["-u", "ak.pem", "-m", "quote.msg", "-s", "quote.sig", "-g", "sha256", "-q"]
        let good = try tpm.tool("tpm2_checkquote", check + [qualifying], in: directory)
        #expect(good.status == 0, "\(good.stderr)")
        let wrong = try tpm.tool("tpm2_checkquote", check + ["ff" + qualifying.dropFirst(2)], in: directory)
        #expect(wrong.status != 0, "a different nonce must not verify")

        let pcrs = try #require(quote["pcrs"] as? [String])
        #expect(pcrs.count == 24)
        #expect(pcrs[8] == (try tpm.pcr(8)))
        await client.close()
    }

    @Test func aTPMThatDoesNotAnswerIsAClearError() async throws {
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": "swtpm:host=127.0.0.1,port=9"])
        let client = try await agent.waitUntilListening()
        do { try await client.bind([1]); Issue.record("bound without a TPM") } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("PCR"), "\(error.message)")
        }
        #expect(try await client.status().state == "Booting", "a failed measurement can be retried")
        await client.close()
    }
}
