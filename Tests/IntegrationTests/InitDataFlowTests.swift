import AttestationAgentAPI
import Foundation
import TTRPC
import Testing

/// The whole initdata flow against the real binary, on the sample TEE with a
/// simulated 64-byte init-data field.
@Suite struct InitDataFlowTests {
    static let field = String(repeating: "5a", count: 48)
    static let fieldBytes = [UInt8](repeating: 0x5A, count: 48)
    static let config = "[token_configs.kbs]\nurl = \"http://127.0.0.1:1\"\n"

    @Test func wrongDigestRejectsForGoodButLocalCallsGoOn() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": Self.field])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Booting")
        await #expect(throws: TTRPCError.self) { try await client.token("kbs") }

        do {
            try await client.bind([0x01, 0x02])
            Issue.record("a wrong digest was accepted")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("0102" + String(repeating: "00", count: 62)))
            #expect(error.message.contains(Self.field))
        }
        let status = try await client.status()
        #expect(status.state == "Rejected")
        #expect(status.binding == "mismatch")

        // Rejected is final: the right digest, a configuration and a token are all refused.
        await #expect(throws: TTRPCError.self) { try await client.bind(Self.fieldBytes) }
        do { try await client.update(Self.config) } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }
        do {
            _ = try await client.token("kbs")
            Issue.record("token after rejection")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied)
        }
        // Evidence can still be read.
        let evidence: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: [0xFF]))
        #expect(String(decoding: evidence.evidence, as: UTF8.self) == #"{"svn":"1","report_data":"/w=="}"#)
        #expect(agent.stderr.contains("error"), "a mismatch is logged at error level")
        await client.close()
    }

    @Test func rightDigestThenConfigurationOnce() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": Self.field])
        let client = try await agent.waitUntilListening()
        do {
            try await client.update(Self.config)
            Issue.record("configured before binding")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }
        // CheckInitData is the same call under its 2024 name; a shorter digest is zero-padded.
        let _: EmptyMessage = try await client.call(.checkInitData, InitDataDigestRequest(digest: Self.fieldBytes))
        var status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "matched")
        #expect(status.initDataDigest == Self.field)
        do {
            _ = try await client.token("kbs")
            Issue.record("token before configuration")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }

        do {
            try await client.update("[token_configs.kbs]\nurl = 5\n")
            Issue.record("bad config accepted")
        } catch let error as TTRPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("token_configs.kbs.url"))
        }
        #expect(try await client.status().state == "InitDataVerified", "a refused configuration changes nothing")

        try await client.update(Self.config)
        status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.configSource == "update")
        do {
            try await client.update(Self.config)
            Issue.record("configured twice")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }
        // The same digest again is fine; the KBS configured is on a port nobody listens on.
        try await client.bind(Self.fieldBytes)
        do {
            _ = try await client.token("kbs")
            Issue.record("a token from nowhere")
        } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("http://127.0.0.1:1"))
        }
        do {
            _ = try await client.token("bogus")
            Issue.record("unknown token type")
        } catch let error as TTRPCError {
            #expect(error.code == .invalidArgument)
        }
        await client.close()
    }

    @Test func fieldlessSampleVerifiesAtOnceAndAnswersEveryMethod() async throws {
        let agent = try AgentProcess()
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "unsupported")
        #expect(try await client.call(.getTeeType, EmptyMessage(), as: GetTeeTypeResponse.self).tee == "sample")
        #expect(
            try await client.call(.getAdditionalTees, EmptyMessage(), as: GetAdditionalTeesResponse.self).additionalTees
                == [])
        #expect(
            try await client.call(
                .getAdditionalEvidence, GetAdditionalEvidenceRequest(runtimeData: [1]),
                as: GetEvidenceResponse.self
            ).evidence == [])
        let measurement = try await client.call(
            .extendRuntimeMeasurement,
            ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c", registerIndex: 17),
            as: ExtendRuntimeMeasurementResponse.self)
        #expect(measurement.result == .notEnabled, "the event log is off unless configured")
        try await client.bind([9, 9])
        #expect(try await client.status().binding == "recorded")
        await #expect(throws: TTRPCError.self) { try await client.bind([8]) }
        await client.close()
    }

    @Test func eventLogEnabledOnTheSampleTEEIsNotSupported() async throws {
        let configPath = NSTemporaryDirectory() + "aa-eventlog-\(getpid()).toml"
        try "[eventlog_config]\nenable_eventlog = true\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: configPath) }
        let agent = try AgentProcess(["--config-file", configPath])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Configured")
        let measurement = try await client.call(
            .extendRuntimeMeasurement, ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c"),
            as: ExtendRuntimeMeasurementResponse.self)
        #expect(measurement.result == .notSupported)
        await client.close()
    }
}
