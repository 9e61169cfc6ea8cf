import AgentCore
import DataEncoding
import HTTPClient
import NIOCore
import NIOHTTP1
import Platform

/// `kbs` tokens: the Request-Challenge-Attestation-Response handshake of
/// trustee's KBS protocol 0.4.0. The reply is upstream's:
/// `{"token": "...", "tee_keypair": "<PEM private key>"}`.
public struct KBSTokenProvider: TokenProvider {
    static let protocolVersion = "0.4.0"
    static let sessionCookie = "kbs-session-id"
    /// The whole handshake is tried this often, a second apart, on any
    /// failure, as upstream retries it: early in boot the network may lag,
    /// and trustee answers 401 for transient failures too.
    static let attempts = 5

    /// The agent's event loops, which the KBS requests run on.
    let group: EventLoopGroup

    public init(group: EventLoopGroup) {
        self.group = group
    }

    public func token(_ request: TokenRequest) async throws(AgentError) -> [UInt8] {
        guard let kbs = request.config.kbs else {
            throw AgentError(.failedPrecondition, "the configuration has no [token_configs.kbs] url: no KBS to ask")
        }
        let service = try RemoteService(
            name: "KBS", url: kbs.url, certificate: kbs.cert,
            timeoutSeconds: kbs.timeoutSeconds, callerLimit: request.timeLimit, group: group)
        var attempt = 1
        while true {
            do throws(AgentError) {
                return try await handshake(request, kbs: kbs, service: service)
            } catch {
                // The last error keeps its code and the KBS's reason.
                let timeLeft = service.deadline > NIODeadline.now() + .seconds(2)
                guard attempt < Self.attempts, timeLeft, error.code != .deadlineExceeded else {
                    throw AgentError(error.code, error.message + " (attempt \(attempt) of \(Self.attempts))")
                }
                // A cancelled call (its caller gave up) makes no further attempt.
                let failure = error
                do { try await Task.sleep(nanoseconds: 1_000_000_000) } catch {
                    throw AgentError(
                        .cancelled,
                        "the token request was cancelled after attempt \(attempt) of \(Self.attempts), which failed: \(failure.message)"
                    )
                }
            }
            attempt += 1
        }
    }

    private func handshake(
        _ request: TokenRequest, kbs: AgentConfig.KBS, service: RemoteService
    ) async throws(AgentError) -> [UInt8] {
        // Request: which protocol, which TEE, which hashes we can do.
        let auth = JSON.object([
            ("version", .string(Self.protocolVersion)), ("tee", .string(request.tee.rawValue)),
            (
                "extra-params",
                .object([("supported-hash-algorithms", .array(ReportDataHash.allCases.map { .string($0.rawValue) }))])
            ),
        ])
        let challengeAnswer = try await service.post("/kbs/v0/auth", json: auth)
        try Self.check(challengeAnswer, step: "auth", service: service)
        let challenge = try challengeAnswer.json(from: service, "the challenge")
        guard let nonce = challenge["nonce"]?.string else {
            throw AgentError(
                .internal, "the KBS at \(service.baseURL) sent a challenge without a nonce: \(challengeAnswer.text)")
        }
        let hash = try ReportDataHash(selected: challenge["extra-params"]?["selected-hash-algorithm"]?.string)
        guard let cookie = Self.sessionCookie(challengeAnswer.headers) else {
            throw AgentError(
                .internal, "the KBS at \(service.baseURL) set no \(Self.sessionCookie) cookie with its challenge")
        }

        // Attestation: evidence bound to the nonce and an ephemeral key.
        let key = try TEEKeyPair(kbs.teeKeyAlgorithm)
        let runtimeData = JSON.object([("nonce", .string(nonce)), ("tee-pubkey", key.jwk)])
        let additional = try await request.additionalEvidence(hash.digest(runtimeData.canonicalized()))
        let additionalText = String(decoding: additional, as: UTF8.self)
        let bound = JSON.object([
            ("tee-pubkey", key.jwk), ("nonce", .string(nonce)), ("additional-evidence", .string(additionalText)),
        ])
        let evidenceBytes = try await request.evidence(hash.digest(bound.canonicalized()))
        let primary: JSON
        do {
            primary = try JSON(parsing: String(decoding: evidenceBytes, as: UTF8.self))
        } catch {
            throw AgentError(.internal, "the \(request.tee.rawValue) evidence is not JSON: \(error)", cause: error)
        }
        var attestation: [(String, JSON)] = []
        if let initData = request.initData {
            attestation.append(("init-data", .object([("format", .string("toml")), ("body", .string(initData))])))
        }
        attestation.append(("runtime-data", runtimeData))
        attestation.append(
            (
                "tee-evidence",
                .object([("primary_evidence", primary), ("additional_evidence", .string(additionalText))])
            ))
        let answer = try await service.post(
            "/kbs/v0/attest", json: .object(attestation),
            headers: [("Cookie", "\(Self.sessionCookie)=\(cookie)")])
        try Self.check(answer, step: "attest", service: service)
        guard let token = try answer.json(from: service, "the attestation result")["token"]?.string else {
            throw AgentError(.internal, "the KBS at \(service.baseURL) answered the attestation without a token")
        }
        let reply = JSON.object([("token", .string(token)), ("tee_keypair", .string(key.privateKeyPEM))])
        return reply.serializedBytes()
    }

    /// 401 is the KBS refusing (its `detail` says why); other failures are the KBS's own.
    static func check(_ answer: RemoteService.Answer, step: String, service: RemoteService) throws(AgentError) {
        switch answer.status.code {
        case 200: return
        case 401, 403:
            let detail = (try? JSON(parsing: answer.text))?["detail"]?.string ?? answer.text
            throw AgentError(.permissionDenied, "the KBS at \(service.baseURL) refused the \(step): \(detail)")
        default:
            throw AgentError(
                .unavailable,
                "the KBS at \(service.baseURL) failed the \(step) with HTTP \(answer.status.code): \(answer.text)")
        }
    }

    static func sessionCookie(_ headers: HTTPHeaders) -> String? {
        for header in headers["set-cookie"] {
            let pair = header.split(separator: ";").first?.split(separator: "=", maxSplits: 1)
            if let pair, pair.count == 2, pair[0].trimmingCharacters() == sessionCookie { return String(pair[1]) }
        }
        return nil
    }
}

/// The hash of the report data: SHA-384 unless the KBS selects another.
enum ReportDataHash: String, CaseIterable {
    case sha256, sha384, sha512

    init(selected: String?) throws(AgentError) {
        guard let selected else {
            self = .sha384
            return
        }
        guard let chosen = ReportDataHash(rawValue: selected.lowercased()) else {
            throw AgentError(
                .internal, "the KBS selected hash algorithm '\(selected)', which this agent does not offer")
        }
        self = chosen
    }

    func digest(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        switch self {
        case .sha256: return SHA2.sha256(bytes)
        case .sha384: return SHA2.sha384(bytes)
        case .sha512: return SHA2.sha512(bytes)
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
