import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import Testing

/// The agent killed (SIGKILL) at random moments while it extends PCR 23 and
/// appends to its event log, 100 times, on one swtpm and one log: after the
/// last restart the log, replayed as trustee replays it, equals the PCR.
@Suite(
    .enabled(
        if: SoftwareTPM.installed || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "swtpm is not installed (Scripts/install-deps.sh --test)"), .tags(.swtpm, .slow))
struct MeasurementFaultTests {
    @Test func sigkillDuringMeasurementsNeverBreaksTheLog() async throws {
        let tpm = try await SoftwareTPM()
        let root = tpm.directory + "/root"
        let config = tpm.directory + "/aa.toml"
        try "[eventlog_config]\ninit_pcr = 23\nenable_eventlog = true\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let initial = try #require(try tpm.pcr(23).hexBytes)
        func launch() throws -> AgentProcess {
            try AgentProcess(["-c", config], environment: ["AA_TPM_TCTI": tpm.tcti, "AA_PLATFORM_ROOT": root])
        }
        func extend(_ client: TTRPCClient, _ content: String) async throws -> ExtendRuntimeMeasurementResponse {
            try await client.call(
                .extendRuntimeMeasurement,
                ExtendRuntimeMeasurementRequest(
                    domain: "fault", operation: "round", content: content, registerIndex: nil))
        }

        var generator = SystemRandomNumberGenerator()
        for round in 0..<100 {
            let agent = try launch()
            let client = try await agent.waitUntilListening()
            // Measurements in flight, then a kill at a random moment among them.
            let calls = Task { [client] in
                for index in 0..<3 { _ = try? await extend(client, "\(round).\(index)") }
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...30_000_000, using: &generator))
            agent.signal(SIGKILL)
            _ = await agent.waitForExit()
            calls.cancel()
            await client.close()
        }

        // The next agent finishes whatever the last one left half done.
        let agent = try launch()
        let client = try await agent.waitUntilListening()
        #expect(try await extend(client, "after").result == .ok, "the log recovers: \(agent.stderr)")
        await client.close()

        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/run/attestation-agent/eventlog")))
        let entries = EventLogTests.parse(log)
        var replayed = initial
        for entry in entries {
            #expect(entry.register == 23)
            replayed = Array(SHA256.hash(data: replayed + entry.digest))
        }
        #expect(try tpm.pcr(23).hexBytes == replayed, "\(entries.count) entries replay to PCR 23")
        #expect(entries.last?.text == "fault round after")
        print("SIGKILL rounds: 100; the log holds \(entries.count) entries and replays to PCR 23")
    }
}
