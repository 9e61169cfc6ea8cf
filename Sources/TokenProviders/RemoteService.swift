import AgentCore
import AsyncHTTPClient
import DataEncoding
import NIOCore
import NIOHTTP1
import NIOSSL

/// One remote service (a KBS, an attestation service) for the length of one
/// GetToken call: its own HTTP client, so that cookies and connections never
/// leak between calls, every request bounded by one deadline, and errors
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
                throw AgentError(.internal, "the \(service.name) at \(service.baseURL) answered \(what) that is not valid JSON: \(error); the answer began: \(text)")
            }
        }
    }

    static let maxAnswerSize = 4 << 20

    let name: String
    let baseURL: String
    let client: HTTPClient
    let deadline: NIODeadline
    let timeLimit: TimeAmount

    /// `pinnedCertificate` (PEM), when given, is the only certificate trusted for HTTPS.
    init(name: String, url: String, pinnedCertificate: String?, timeoutSeconds: Int64, callerLimit: Duration?) throws(AgentError) {
        self.name = name
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        var limit = TimeAmount.seconds(timeoutSeconds)
        if let callerLimit {
            let (seconds, attoseconds) = callerLimit.components
            limit = min(limit, .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        }
        self.timeLimit = limit
        self.deadline = .now() + limit
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pinnedCertificate {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pinnedCertificate.utf8)))
            } catch {
                throw AgentError(.invalidArgument, "the configured \(name) certificate is not PEM: \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: limit, read: limit)
        // A refused connection or a certificate that does not verify is the
        // answer: retrying until the deadline would hide it behind a timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func post(_ path: String, json body: JSON, headers: [(String, String)] = []) async throws(AgentError) -> Answer {
        let url = baseURL + path
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body.serialized()))
        do {
            let response = try await client.execute(request, deadline: deadline)
            let collected = try await response.body.collect(upTo: Self.maxAnswerSize)
            return Answer(status: response.status, headers: response.headers, body: Array(collected.readableBytesView))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw AgentError(.deadlineExceeded, "the \(name) at \(url) did not answer within \(timeLimit.nanoseconds / 1_000_000) ms")
        } catch let error as NIOTooManyBytesError {
            throw AgentError(.internal, "the \(name) at \(url) answered more than \(Self.maxAnswerSize) bytes: \(error)")
        } catch {
            throw AgentError(.unavailable, "cannot reach the \(name) at \(url): \(error)")
        }
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// Runs `body` with this service and shuts its client down afterwards,
    /// whatever `body` did.
    func run<T>(_ body: (RemoteService) async throws(AgentError) -> T) async throws(AgentError) -> T {
        let result: Result<T, AgentError>
        do throws(AgentError) {
            result = .success(try await body(self))
        } catch {
            result = .failure(error)
        }
        await shutdown()
        return try result.get()
    }
}
