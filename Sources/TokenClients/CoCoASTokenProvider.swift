import AgentCore
import DataEncoding
import KBSClient
import NIOCore

/// `coco_as` tokens: the CoCo attestation service's `/attestation`, as
/// upstream calls it (evidence over empty report data, no policy ids); the
/// reply is the service's answer as it comes.
public struct CoCoASTokenProvider: TokenProvider {
    /// The agent's event loops, which the requests run on.
    let group: EventLoopGroup

    public init(group: EventLoopGroup) {
        self.group = group
    }

    public func token(_ request: TokenRequest) async throws(AgentError) -> [UInt8] {
        guard let settings = request.config.cocoAS else {
            throw AgentError(
                .failedPrecondition,
                "the configuration has no [token_configs.coco_as] url: no attestation service to ask")
        }
        let service = try RemoteService(
            name: "attestation service", url: settings.url, certificate: nil,
            timeoutSeconds: settings.timeoutSeconds, callerLimit: request.timeLimit, group: group)
        return try await attest(request, service: service)
    }

    private func attest(_ request: TokenRequest, service: RemoteService) async throws(AgentError) -> [UInt8] {
        let evidence = try await request.evidence([])
        let body = JSON.object([
            (
                "verification_requests",
                .array([
                    .object([
                        ("tee", .string(request.tee.rawValue)),
                        ("evidence", .string(Base64.urlEncode(evidence))),
                    ])
                ])
            ),
            ("policy_ids", .array([])),
        ])
        let answer = try await service.post("/attestation", json: body)
        switch answer.status.code {
        case 200: return answer.body
        case 401, 403:
            throw AgentError(.permissionDenied, "the attestation service at \(service.baseURL) refused: \(answer.text)")
        default:
            throw AgentError(
                .unavailable,
                "the attestation service at \(service.baseURL) failed with HTTP \(answer.status.code): \(answer.text)")
        }
    }
}
