import AgentCore
import Configuration
import DataEncoding
import KBSClient
import NIOCore

/// `kbs` tokens: the Request-Challenge-Attestation-Response handshake of
/// trustee's KBS protocol 0.4.0 (`KBSSession`), with the agent's evidence.
/// The reply is upstream's: `{"token": "...", "tee_keypair": "<PEM private key>"}`.
public struct KBSTokenProvider: TokenProvider {
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
        let session = try KBSSession(kbs: kbs, callerLimit: request.timeLimit, group: group)
        var attempt = 1
        while true {
            do throws(AgentError) {
                return try await handshake(request, kbs: kbs, session: session)
            } catch {
                // The last error keeps its code and the KBS's reason.
                let timeLeft = session.service.deadline > NIODeadline.now() + .seconds(2)
                guard attempt < Self.attempts, timeLeft, error.code != .deadlineExceeded else {
                    throw AgentError(
                        error.code, error.message + " (attempt \(attempt) of \(Self.attempts))", cause: error.cause)
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
        _ request: TokenRequest, kbs: AgentConfig.KBS, session: KBSSession
    ) async throws(AgentError) -> [UInt8] {
        let challenge = try await session.requestChallenge(tee: request.tee.rawValue)

        // Attestation: evidence bound to the nonce and an ephemeral key.
        let key = try TEEKeyPair(kbs.teeKeyAlgorithm)
        let runtimeData = JSON.object([("nonce", .string(challenge.nonce)), ("tee-pubkey", key.jwk)])
        let additional = try await request.additionalEvidence(challenge.hash.digest(runtimeData.canonicalized()))
        let additionalText = String(decoding: additional, as: UTF8.self)
        let bound = JSON.object([
            ("tee-pubkey", key.jwk), ("nonce", .string(challenge.nonce)),
            ("additional-evidence", .string(additionalText)),
        ])
        let evidenceBytes = try await request.evidence(challenge.hash.digest(bound.canonicalized()))
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
        let token = try await session.attest(.object(attestation), in: challenge)
        let reply = JSON.object([("token", .string(token)), ("tee_keypair", .string(key.privateKeyPEM))])
        return reply.serializedBytes()
    }
}
