import AgentCore
import AttestationAgentAPI
import DataEncoding
import Logging
import NIOCore
import ProtobufCSupport
import TTRPC

/// The service glue: for each method, decode the request through protobuf-c,
/// call the agent core, encode the answer. No decisions are made here.
public enum AttestationServiceHandlers {
    public static func register(agent: AttestationAgent, in services: inout TTRPCServiceSet, logger: Logger) {
        func unary<Request: ProtobufCodable & Sendable, Response: ProtobufCodable & SendableMetatype>(
            _ method: AttestationAgentMethod,
            _ body: @escaping @Sendable (Request, TTRPCCallContext) async throws(AgentError) -> Response
        ) {
            // Answers from the agent's state run on the event loop; anything
            // that may reach a device, a file or the network runs off it.
            let placement: TTRPCHandlerPlacement = method.answersFromMemory ? .eventLoop : .concurrentPool
            services.register(service: AttestationAgentMethod.service, method: method.rawValue, placement: placement) { context, payload in
                let request: Request
                do {
                    request = try Request(protobufBytes: payload)
                } catch {
                    throw TTRPCError(.invalidArgument, "\(method.rawValue): \(error)")
                }
                do throws(AgentError) {
                    return try await body(request, context).protobufBytes()
                } catch {
                    logger.debug("call refused", metadata: ["method": "\(method.rawValue)", "error": "\(error)"])
                    throw TTRPCError(error)
                }
            }
        }

        unary(.getEvidence) { (request: GetEvidenceRequest, _: TTRPCCallContext) throws(AgentError) in
            GetEvidenceResponse(evidence: try await agent.evidence(runtimeData: request.runtimeData))
        }
        unary(.getAdditionalEvidence) { (request: GetAdditionalEvidenceRequest, _: TTRPCCallContext) throws(AgentError) in
            GetEvidenceResponse(evidence: try await agent.additionalEvidence(runtimeData: request.runtimeData))
        }
        unary(.getToken) { (request: GetTokenRequest, context: TTRPCCallContext) throws(AgentError) in
            // The remote calls get what is left of the caller's deadline.
            let timeLimit = context.deadline.map { Duration.nanoseconds(max(0, Int64($0.uptimeNanoseconds) - Int64(NIODeadline.now().uptimeNanoseconds))) }
            return GetTokenResponse(token: try await agent.token(type: request.tokenType, timeLimit: timeLimit))
        }
        unary(.extendRuntimeMeasurement) { (request: ExtendRuntimeMeasurementRequest, _: TTRPCCallContext) throws(AgentError) in
            let outcome = try await agent.extendRuntimeMeasurement(
                domain: request.domain, operation: request.operation, content: request.content, registerIndex: request.registerIndex)
            switch outcome {
            case .ok: return ExtendRuntimeMeasurementResponse(result: .ok)
            case .notSupported: return ExtendRuntimeMeasurementResponse(result: .notSupported)
            case .notEnabled: return ExtendRuntimeMeasurementResponse(result: .notEnabled)
            }
        }
        for method in [AttestationAgentMethod.bindInitData, .checkInitData] {
            unary(method) { (request: InitDataDigestRequest, _: TTRPCCallContext) throws(AgentError) in
                try await agent.bindInitData(digest: request.digest)
                return EmptyMessage()
            }
        }
        unary(.updateConfiguration) { (request: UpdateConfigurationRequest, _: TTRPCCallContext) throws(AgentError) in
            try await agent.updateConfiguration(request.config)
            return EmptyMessage()
        }
        unary(.getTeeType) { (_: EmptyMessage, _: TTRPCCallContext) throws(AgentError) in
            GetTeeTypeResponse(tee: try await agent.teeType().rawValue)
        }
        unary(.getAdditionalTees) { (_: EmptyMessage, _: TTRPCCallContext) throws(AgentError) in
            GetAdditionalTeesResponse(additionalTees: try await agent.additionalTees().map(\.rawValue))
        }
        unary(.getStatus) { (_: EmptyMessage, _: TTRPCCallContext) throws(AgentError) in
            let status = try await agent.statusReport()
            return GetStatusResponse(state: status.state.rawValue, binding: status.binding.rawValue, tee: status.tee.rawValue,
                                     configSource: status.configSource.rawValue, initDataDigest: status.boundDigest.map(Hex.encode) ?? "")
        }
    }
}

extension TTRPCError {
    /// The wire status for an agent refusal.
    init(_ error: AgentError) {
        let code: StatusCode = switch error.kind {
        case .invalidArgument: .invalidArgument
        case .failedPrecondition: .failedPrecondition
        case .permissionDenied: .permissionDenied
        case .unimplemented: .unimplemented
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .internal: .internal
        }
        self.init(code, error.message)
    }
}
