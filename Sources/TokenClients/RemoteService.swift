import AgentCore
import DataEncoding
import HTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL

/// One remote service (a KBS, an attestation service) for the length of one
/// GetToken call: a connection per request (HTTPExchange), so that nothing
/// leaks between calls, every request bounded by one deadline, and errors
/// turned into status codes that name the URL.
struct RemoteService {
    struct Answer {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: [UInt8]

        var text: String { String(decoding: body.prefix(2048), as: UTF8.self) }

        func json(from service: RemoteService, _ what: String) throws(AgentError) -> JSON {
            do {
                return try JSON(parsing: String(decoding: body, as: UTF8.self))
            } catch {
                throw AgentError(
                    .internal,
                    "the \(service.name) at \(service.baseURL) answered \(what) that is not valid JSON: \(error); the answer began: \(text)"
                )
            }
        }
    }

    static let maxAnswerSize = 4 << 20

    let name: String
    let baseURL: String
    let url: ServiceURL
    let tls: NIOSSLContext?
    let deadline: NIODeadline
    let timeLimit: TimeAmount
    /// The agent's event loops, which the requests run on.
    let group: EventLoopGroup

    /// `certificate` (PEM), when given, is trusted for HTTPS besides the system's roots.
    init(
        name: String, url: String, certificate: String?, timeoutSeconds: Int64, callerLimit: Duration?,
        group: EventLoopGroup
    ) throws(AgentError) {
        self.name = name
        self.group = group
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        guard let parsed = ServiceURL(base) else {
            throw AgentError(
                .invalidArgument,
                "the \(name) URL '\(url)' is not an http:// or https:// URL with a host and an optional port")
        }
        self.url = parsed
        var limit = TimeAmount.seconds(timeoutSeconds)
        if let callerLimit {
            let (seconds, attoseconds) = callerLimit.components
            limit = min(limit, .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        }
        self.timeLimit = limit
        self.deadline = .now() + limit
        guard parsed.secure else {
            tls = nil
            return
        }
        do { tls = try ClientTLS.context(trustingAlso: certificate) } catch {
            let message = "TLS for the \(name) at \(base): \(error)"
            switch error {
            case .certificateNotPEM: throw AgentError(.invalidArgument, message, cause: error)
            case .noTrustedRoots: throw AgentError(.failedPrecondition, message, cause: error)
            case .setUp: throw AgentError(.internal, message, cause: error)
            }
        }
    }

    /// POSTs `body` to `path`. A refused connection or a certificate that does
    /// not verify is the answer at once: retrying until the deadline would hide
    /// it behind a timeout.
    func post(_ path: String, json body: JSON, headers: [(String, String)] = []) async throws(AgentError) -> Answer {
        let target = baseURL + path
        do {
            let answer = try await HTTPExchange.send(
                .POST, path, to: url, headers: [("Content-Type", "application/json")] + headers,
                body: body.serializedBytes(), tls: tls, deadline: deadline, maxAnswerSize: Self.maxAnswerSize,
                group: group)
            return Answer(status: answer.status, headers: answer.headers, body: answer.body)
        } catch HTTPExchange.Failure.timedOut {
            throw AgentError(
                .deadlineExceeded,
                "the \(name) at \(target) did not answer within \(timeLimit.nanoseconds / 1_000_000) ms")
        } catch HTTPExchange.Failure.tooLarge(let limit) {
            throw AgentError(.internal, "the \(name) at \(target) answered more than \(limit) bytes")
        } catch is CancellationError {
            throw AgentError(.deadlineExceeded, "the call was cancelled while waiting for the \(name) at \(target)")
        } catch {
            throw AgentError(.unavailable, "cannot reach the \(name) at \(target): \(error)", cause: error)
        }
    }

}
