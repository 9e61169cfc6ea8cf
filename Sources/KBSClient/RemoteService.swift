import Configuration
import DataEncoding
import HTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import RPCStatus

/// One remote service (a KBS, an attestation service) for the length of one
/// call: a connection per request (HTTPExchange), so that nothing leaks
/// between calls, every request bounded by one deadline, and errors turned
/// into status codes whose messages name the URL and say what failed in the
/// agent's words (`ConnectionProblem`, kept as the error's cause).
public struct RemoteService: Sendable {
    public struct Answer: Sendable {
        public let status: HTTPResponseStatus
        public let headers: HTTPHeaders
        public let body: [UInt8]

        /// The start of the body, for messages.
        public var text: String { String(decoding: body.prefix(2048), as: UTF8.self) }

        public func json(from service: RemoteService, _ what: String) throws(StatusError) -> JSON {
            do {
                return try JSON(parsing: String(decoding: body, as: UTF8.self))
            } catch {
                throw StatusError(
                    .internal,
                    "the \(service.name) at \(service.baseURL) answered \(what) that is not valid JSON: \(error); the answer began: \(text)"
                )
            }
        }
    }

    static let maxAnswerSize = 4 << 20

    public let name: String
    public let baseURL: String
    let url: ServiceURL
    let tls: NIOSSLContext?
    /// When the caller stops waiting: every request of the call ends by then.
    public let deadline: NIODeadline
    let timeLimit: TimeAmount
    /// The event loops the requests run on (the agent's own, or aactl's).
    let group: EventLoopGroup

    /// `certificate` (PEM), when given, is trusted for HTTPS besides the
    /// system's roots; the call may take `timeoutSeconds`, or `callerLimit`
    /// when that is shorter.
    public init(
        name: String, url: String, certificate: String?, timeoutSeconds: Int64, callerLimit: Duration?,
        group: EventLoopGroup
    ) throws(StatusError) {
        self.name = name
        self.group = group
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        guard let parsed = ServiceURL(base) else {
            throw StatusError(
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
            case .certificateNotPEM: throw StatusError(.invalidArgument, message, cause: error)
            case .noTrustedRoots: throw StatusError(.failedPrecondition, message, cause: error)
            case .setUp: throw StatusError(.internal, message, cause: error)
            }
        }
    }

    /// POSTs `body` to `path`. A refused connection or a certificate that does
    /// not verify is the answer at once: retrying until the deadline would hide
    /// it behind a timeout.
    public func post(
        _ path: String, json body: JSON, headers: [(String, String)] = []
    ) async throws(StatusError)
        -> Answer
    {
        let target = baseURL + path
        do {
            let answer = try await HTTPExchange.send(
                .POST, path, to: url, headers: [("Content-Type", "application/json")] + headers,
                body: body.serializedBytes(), tls: tls, deadline: deadline, maxAnswerSize: Self.maxAnswerSize,
                group: group)
            return Answer(status: answer.status, headers: answer.headers, body: answer.body)
        } catch is CancellationError {
            throw StatusError(.deadlineExceeded, "the call was cancelled while waiting for the \(name) at \(target)")
        } catch {
            let problem = ConnectionProblem(error, service: url)
            switch problem.kind {
            case .timedOut:
                throw StatusError(
                    .deadlineExceeded,
                    "the \(name) at \(target) did not answer within \(timeLimit.nanoseconds / 1_000_000) ms",
                    cause: problem)
            case .tooLarge:
                throw StatusError(.internal, "the \(name) at \(target) answered: \(problem)", cause: problem)
            case .unresolved, .unreachable, .tls, .closedEarly:
                throw StatusError(.unavailable, "cannot reach the \(name) at \(target): \(problem)", cause: problem)
            }
        }
    }
}
