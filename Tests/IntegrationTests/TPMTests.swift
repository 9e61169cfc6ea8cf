import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import TestSupport
import Testing

/// The real binary against a real software TPM (swtpm), checked with tpm2-tools.
@Suite(
    .enabled(
        if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "swtpm is not installed (Scripts/install-deps.sh --test)"), .tags(.swtpm))
struct TPMTests {
    @Test func quoteVerifiesWithTpm2Checkquote() async throws {
        let tpm = try await SoftwareTPM()
        let provisioned = try tpm.provisionAttestationKey()
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        let reportData: [UInt8] = [0xAA, 0xBB, 0xCC]
        let response: GetEvidenceResponse = try await client.call(
            .getEvidence, GetEvidenceRequest(runtimeData: reportData))
        let evidence = try #require(try JSONSerialization.jsonObject(with: Data(response.evidence)) as? [String: Any])
        let quote = try #require(evidence["tpm_quote"] as? [String: Any])
        let directory = agent.directory
        try Data(base64Encoded: quote["message"] as! String)!.write(to: URL(fileURLWithPath: directory + "/quote.msg"))
        try Data(base64Encoded: quote["signature"] as! String)!.write(
            to: URL(fileURLWithPath: directory + "/quote.sig"))
        let der = try #require(Data(base64Encoded: evidence["ak_public"] as! String))
        #expect(der == provisioned, "the quote names the key provisioned at 0x81010002, as tpm2_readpublic shows it")
        let pem =
            "-----BEGIN PUBLIC KEY-----\n"
            + der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
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

    /// Upstream quotes only with the machine's attestation key: without one
    /// at the handle there is no evidence (FAILED_PRECONDITION, naming the
    /// handle and how to provision it), never a key made for the occasion.
    @Test func quotesOnlyWithTheProvisionedAttestationKey() async throws {
        let tpm = try await SoftwareTPM()
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti])
        let client = try await agent.waitUntilListening()
        do {
            let _: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: [1]))
            Issue.record("a quote without a provisioned attestation key")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message.contains("no attestation key at persistent handle 0x81010002"), "\(error.message)")
            #expect(error.message.contains("tpm2_createak") && error.message.contains("AA_TPM_AK_HANDLE"))
        }
        let transient = try tpm.tool("tpm2_getcap", ["handles-transient"]).stdout
        #expect(transient.isEmpty, "no key was created for the occasion: \(transient)")
        #expect(try await client.status().state == "InitDataVerified", "the agent serves on")
        let doctor = try CommandResult.run(
            "aactl", ["doctor", "--socket", "unix://\(agent.socketPath)", "--root", agent.directory + "/root"])
        #expect(doctor.status == 1)
        #expect(
            doctor.stdout.contains("FAIL TPM attestation key: FAILED_PRECONDITION")
                && doctor.stdout.contains("fix: provision the machine's attestation key"), "\(doctor.stdout)")

        // Provisioned while the agent runs: the next call quotes with it.
        let provisioned = try tpm.provisionAttestationKey()
        let response: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: [1]))
        let evidence = try #require(try JSONSerialization.jsonObject(with: Data(response.evidence)) as? [String: Any])
        #expect(Data(base64Encoded: evidence["ak_public"] as? String ?? "") == provisioned)
        let healed = try CommandResult.run(
            "aactl", ["doctor", "--socket", "unix://\(agent.socketPath)", "--root", agent.directory + "/root"])
        #expect(healed.stdout.contains("PASS TPM attestation key"), "\(healed.stdout)")
        await client.close()

        // A key elsewhere is found through AA_TPM_AK_HANDLE, as upstream's.
        let elsewhere = try AgentProcess(environment: ["AA_TPM_TCTI": tpm.tcti, "AA_TPM_AK_HANDLE": "0x81010009"])
        let other = try await elsewhere.waitUntilListening()
        do {
            let _: GetEvidenceResponse = try await other.call(.getEvidence, GetEvidenceRequest(runtimeData: [1]))
            Issue.record("quoted with a key at another handle than AA_TPM_AK_HANDLE's")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition && error.message.contains("0x81010009"), "\(error)")
        }
        await other.close()
    }

    @Test func aTPMThatDoesNotAnswerIsAClearError() async throws {
        let agent = try AgentProcess(environment: ["AA_TPM_TCTI": "swtpm:host=127.0.0.1,port=9"])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Booting", "PCR 8 could not be read at launch")
        do {
            try await client.bind([1])
            Issue.record("bound without a TPM")
        } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("PCR 8"), "\(error.message)")
        }
        #expect(try await client.status().state == "Booting", "a failed read can be retried")
        await client.close()
    }
}

/// Runtime measurements with the event log, against swtpm: replaying the log
/// must give the PCRs tpm2_pcrread shows.
@Suite(
    .enabled(
        if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "swtpm is not installed (Scripts/install-deps.sh --test)"))
struct EventLogTests {
    /// One parsed entry of the log: register, digest, event text.
    struct Entry {
        let register: UInt32
        let digest: [UInt8]
        let text: String
    }

    static func parse(_ log: [UInt8]) -> [Entry] {
        func u32(_ at: Int) -> UInt32 { log[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        var entries: [Entry] = []
        var offset = 0
        while offset < log.count {
            let register = u32(offset)
            #expect(u32(offset + 4) == 6, "EV_EVENT_TAG")
            #expect(u32(offset + 8) == 1, "one digest")
            #expect(log[offset + 12] == 0x0B && log[offset + 13] == 0, "TPM_ALG_SHA256")
            let digest = Array(log[offset + 14..<offset + 46])
            let size = Int(u32(offset + 46))
            let tagged = Array(log[offset + 50..<offset + 50 + size])
            #expect(Array(tagged.prefix(4)) == [0x4C, 0x45, 0x41, 0x41], "tag AAEL")
            #expect(digest == Array(SHA256.hash(data: tagged)), "the digest is over the tagged event")
            entries.append(
                Entry(register: register, digest: digest, text: String(decoding: tagged.dropFirst(8), as: UTF8.self)))
            offset += 50 + size
        }
        return entries
    }

    @Test func eventsAreLoggedAndExtendTheirPCRs() async throws {
        let tpm = try await SoftwareTPM()
        let initial = [16: try tpm.pcr(16).hexBytes!, 23: try tpm.pcr(23).hexBytes!]
        let second = try AgentProcess(
            environment: ["AA_TPM_TCTI": tpm.tcti],
            setUp: { directory in
                try "[eventlog_config]\ninit_pcr = 23\nenable_eventlog = true\n"
                    .write(toFile: directory + "/aa.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--config-file", directory + "/aa.toml"]
            })
        let client = try await second.waitUntilListening()
        for (domain, content, index) in [
            ("github.com/kata", "pull image-a", nil as UInt64?), ("github.com/kata", "pull image-b", 16),
        ] {
            let result = try await client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(
                    domain: domain, operation: "CreateContainer", content: content, registerIndex: index),
                as: ExtendRuntimeMeasurementResponse.self)
            #expect(result.result == .ok)
        }
        do {
            _ = try await client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(domain: "a b", operation: "o", content: "c", registerIndex: nil),
                as: ExtendRuntimeMeasurementResponse.self)
            Issue.record("a domain with a space was logged")
        } catch let error as TTRPCError {
            #expect(error.code == .invalidArgument, "\(error)")
        }
        // PCRs 17-22 cannot be extended from the OS: the result says so, not an
        // error, because the confidential-data-hub fails an image pull on any error.
        for _ in 0..<2 {
            let refused = try await client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c", registerIndex: 17),
                as: ExtendRuntimeMeasurementResponse.self)
            #expect(refused.result == .notSupported)
        }
        #expect(
            second.stderr.components(separatedBy: "PCR 17 belongs to dynamic launch").count == 2,
            "one warning: \(second.stderr)")

        let log = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: second.directory + "/root/run/attestation-agent/eventlog")))
        let entries = Self.parse(log)
        #expect(
            entries.map(\.text) == [
                "github.com/kata CreateContainer pull image-a", "github.com/kata CreateContainer pull image-b",
            ])
        #expect(entries.map(\.register) == [23, 16])
        var replayed = initial
        for entry in entries {
            replayed[Int(entry.register)] = Array(SHA256.hash(data: replayed[Int(entry.register)]! + entry.digest))
        }
        #expect(try tpm.pcr(23).hexBytes == replayed[23])
        #expect(try tpm.pcr(16).hexBytes == replayed[16])
        await client.close()
    }

    /// `AAEL_PATH`, upstream's override of the log's path: the agent writes
    /// there (its write-ahead record beside it) and aactl doctor reads there.
    @Test func aaelPathMovesTheLog() async throws {
        let tpm = try await SoftwareTPM()
        let moved = tpm.directory + "/elsewhere/aael.log"
        let agent = try AgentProcess(
            environment: ["AA_TPM_TCTI": tpm.tcti, "AAEL_PATH": moved],
            setUp: { directory in
                try "[eventlog_config]\ninit_pcr = 23\nenable_eventlog = true\n"
                    .write(toFile: directory + "/aa.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--config-file", directory + "/aa.toml"]
            })
        let client = try await agent.waitUntilListening()
        for content in ["a", "b"] {
            let result = try await client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: content, registerIndex: nil),
                as: ExtendRuntimeMeasurementResponse.self)
            #expect(result.result == .ok)
        }
        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: moved)))
        #expect(Self.parse(log).map(\.text) == ["d o a", "d o b"])
        #expect(!FileManager.default.fileExists(atPath: agent.directory + "/root/run/attestation-agent/eventlog"))
        #expect(!FileManager.default.fileExists(atPath: tpm.directory + "/elsewhere/.wal_event_entry"))

        let doctor = try CommandResult.run(
            "aactl", ["doctor", "--socket", "unix://\(agent.socketPath)", "--root", agent.directory + "/root"],
            environment: ["AAEL_PATH": moved])
        #expect(doctor.stdout.contains("PASS event log file: \(moved): 2 entries, registers 23"), "\(doctor.stdout)")
        #expect(
            doctor.stdout.contains("PASS write-ahead record: clean (no \(tpm.directory)/elsewhere/.wal_event_entry)"))
        await client.close()
    }
}
