import Configuration
import DataEncoding
import NIOCore
import NIOHTTP1
import RPCStatus

/// Trustee's KBS protocol 0.4.0 as this agent speaks it, the two requests of
/// one session: the challenge (`POST /kbs/v0/auth`) and the attestation
/// (`POST /kbs/v0/attest` with the session's cookie). The agent's token
/// provider and `aactl doctor` both go through here, so that doctor asks
/// exactly what the agent asks.
public struct KBSSession: Sendable {
    public static let protocolVersion = "0.4.0"
    static let sessionCookie = "kbs-session-id"

    public let service: RemoteService

    /// A session with the KBS of `kbs`, bounded by its timeout or `callerLimit`.
    public init(kbs: AgentConfig.KBS, callerLimit: Duration?, group: EventLoopGroup) throws(StatusError) {
        service = try RemoteService(
            name: "KBS", url: kbs.url, certificate: kbs.cert, timeoutSeconds: kbs.timeoutSeconds,
            callerLimit: callerLimit, group: group)
    }

    /// What the KBS's challenge holds.
    public struct Challenge: Sendable {
        public let nonce: String
        /// The hash the report data is made with (SHA-384 unless the KBS selects another).
        public let hash: ReportDataHash
        /// The session's cookie, which the attestation request carries back.
        let cookie: String
    }

    /// The first request: the protocol version, the TEE, and the hashes this
    /// agent can make of the report data.
    public func requestChallenge(tee: String) async throws(StatusError) -> Challenge {
        let auth = JSON.object([
            ("version", .string(Self.protocolVersion)), ("tee", .string(tee)),
            (
                "extra-params",
                .object([("supported-hash-algorithms", .array(ReportDataHash.allCases.map { .string($0.rawValue) }))])
            ),
        ])
        let answer = try await service.post("/kbs/v0/auth", json: auth)
        try check(answer, step: "auth")
        let challenge = try answer.json(from: service, "the challenge")
        guard let nonce = challenge["nonce"]?.string else {
            throw StatusError(
                .internal, "the KBS at \(service.baseURL) sent a challenge without a nonce: \(answer.text)")
        }
        let hash = try ReportDataHash(selected: challenge["extra-params"]?["selected-hash-algorithm"]?.string)
        guard let cookie = Self.sessionCookie(answer.headers) else {
            throw StatusError(
                .internal, "the KBS at \(service.baseURL) set no \(Self.sessionCookie) cookie with its challenge")
        }
        return Challenge(nonce: nonce, hash: hash, cookie: cookie)
    }

    /// The second request: `attestation` (init-data, runtime-data,
    /// tee-evidence) in the session `challenge` opened; the KBS's token.
    public func attest(_ attestation: JSON, in challenge: Challenge) async throws(StatusError) -> String {
        let answer = try await service.post(
            "/kbs/v0/attest", json: attestation, headers: [("Cookie", "\(Self.sessionCookie)=\(challenge.cookie)")])
        try check(answer, step: "attest")
        guard let token = try answer.json(from: service, "the attestation result")["token"]?.string else {
            throw StatusError(.internal, "the KBS at \(service.baseURL) answered the attestation without a token")
        }
        return token
    }

    /// 401 is the KBS refusing (its `detail` says why); other failures are the KBS's own.
    private func check(_ answer: RemoteService.Answer, step: String) throws(StatusError) {
        switch answer.status.code {
        case 200: return
        case 401, 403:
            let detail = (try? JSON(parsing: answer.text))?["detail"]?.string ?? answer.text
            throw StatusError(.permissionDenied, "the KBS at \(service.baseURL) refused the \(step): \(detail)")
        default:
            throw StatusError(
                .unavailable,
                "the KBS at \(service.baseURL) failed the \(step) with HTTP \(answer.status.code): \(answer.text)")
        }
    }

    static func sessionCookie(_ headers: HTTPHeaders) -> String? {
        for header in headers["set-cookie"] {
            let pair = header.split(separator: ";").first?.split(separator: "=", maxSplits: 1)
            if let pair, pair.count == 2, trimmed(pair[0]) == sessionCookie { return String(pair[1]) }
        }
        return nil
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// The hash of the report data: SHA-384 unless the KBS selects another.
public enum ReportDataHash: String, CaseIterable, Sendable {
    case sha256, sha384, sha512

    init(selected: String?) throws(StatusError) {
        guard let selected else {
            self = .sha384
            return
        }
        guard let chosen = ReportDataHash(rawValue: selected.lowercased()) else {
            throw StatusError(
                .internal, "the KBS selected hash algorithm '\(selected)', which this agent does not offer")
        }
        self = chosen
    }

    public func digest(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        switch self {
        case .sha256: return SHA2.sha256(bytes)
        case .sha384: return SHA2.sha384(bytes)
        case .sha512: return SHA2.sha512(bytes)
        }
    }
}
