import AgentCore
import AgentService
import AttestationAgentAPI
import Logging
import Platform
import PlatformInterface
import ProtobufCSupport
import TTRPC
import Testing

/// The service glue without sockets: handlers called with encoded payloads.
@Suite struct AgentServiceHandlersTests {
    let services: TTRPCServiceSet

    init() async {
        let agent = AttestationAgent(platform: SampleTEE(simulatedField: [0x42]), logger: Logger(label: "test"))
        await agent.startWithoutInitData()
        var services = TTRPCServiceSet()
        AgentServiceHandlers.register(agent: agent, in: &services, logger: Logger(label: "test"))
        self.services = services
    }

    private func call(_ method: AttestationAgentMethod, _ payload: [UInt8]) async throws -> [UInt8] {
        let handler = try services.lookup(service: AttestationAgentMethod.service, method: method.rawValue).get()
            .handler
        let context = TTRPCCallContext(
            service: AttestationAgentMethod.service, method: method.rawValue,
            metadata: [], deadline: nil, listener: "test")
        // The status the server would send for what the handler throws.
        do { return try await handler(context, payload) } catch { throw TTRPCError(answering: error) }
    }

    @Test func payloadThatDoesNotDecodeIsInvalidArgument() async {
        do {
            _ = try await call(.getEvidence, [0x0A, 0x7F])
            Issue.record("garbage decoded")
        } catch let error as TTRPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("attestation_agent.GetEvidenceRequest"), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func agentRefusalsKeepTheirStatusCodes() async throws {
        await #expect(
            throws: TTRPCError(
                .failedPrecondition,
                "initdata is not verified yet: call BindInitData before UpdateConfiguration")
        ) {
            try await call(.updateConfiguration, UpdateConfigurationRequest(config: "").protobufBytes())
        }
        do {
            _ = try await call(.bindInitData, InitDataDigestRequest(digest: [0x41]).protobufBytes())
            Issue.record("mismatch accepted")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied)
        }
        let status = try GetStatusResponse(protobufBytes: try await call(.getStatus, []))
        #expect(
            status
                == GetStatusResponse(
                    state: "Rejected", binding: "mismatch", tee: "sample", configSource: "none", initDataDigest: "41",
                    initDataField: "42" + String(repeating: "00", count: 63)),
            "in Rejected the digest that did not match, and the field beside it")
        await #expect(throws: TTRPCError.self) {
            try await call(.getToken, GetTokenRequest(tokenType: "kbs").protobufBytes())
        }
    }

    @Test func checkInitDataIsBindInitData() async throws {
        #expect(try await call(.checkInitData, InitDataDigestRequest(digest: [0x42]).protobufBytes()) == [])
        let status = try GetStatusResponse(protobufBytes: try await call(.getStatus, []))
        #expect(status.state == "InitDataVerified")
        #expect(status.initDataDigest == "42")
    }

    @Test func registerIndexPresenceSurvivesTheWire() throws {
        let absent = ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c")
        let zero = ExtendRuntimeMeasurementRequest(domain: "d", operation: "o", content: "c", registerIndex: 0)
        #expect(try ExtendRuntimeMeasurementRequest(protobufBytes: absent.protobufBytes()).registerIndex == nil)
        #expect(try ExtendRuntimeMeasurementRequest(protobufBytes: zero.protobufBytes()).registerIndex == 0)
        // proto3 `optional` sends an explicit zero; a plain field would not.
        #expect(zero.protobufBytes().suffix(2) == [0x20, 0x00])
    }

    @Test func repeatedStringsRoundTrip() throws {
        let response = GetAdditionalTeesResponse(additionalTees: ["tdx", "", "az-snp-vtpm"])
        #expect(try GetAdditionalTeesResponse(protobufBytes: response.protobufBytes()) == response)
    }
}
