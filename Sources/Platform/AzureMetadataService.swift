import Configuration
import DataEncoding
import HTTPClient
import NIOCore
import NIOHTTP1
import PlatformInterface

/// Azure's instance metadata service (IMDS): what an Azure confidential VM's
/// evidence needs beside the vTPM, the VCEK certificate of its SNP host and
/// a signed TD quote for its TD report. Plain HTTP at the link-local address,
/// as upstream's attesters ask it; `AA_AZURE_IMDS_URL` points elsewhere, for
/// tests only.
public struct AzureMetadataService: Sendable {
    public static let defaultURL = "http://169.254.169.254"
    static let vcekPath = "/metadata/THIM/amd/certification"
    static let tdQuotePath = "/acc/tdquote"
    /// Each request's own bound; the caller's deadline ends the call sooner
    /// (the server cancels it, and the request with it).
    static let requestLimit = TimeAmount.seconds(10)
    /// A refused connection or a 5xx/429 answer is asked again, this many times in all.
    static let attempts = 3
    static let retryPause = Duration.milliseconds(300)
    static let maxAnswerSize = 1 << 20

    public let baseURL: String
    /// The agent's event loops, which the requests run on.
    let group: EventLoopGroup

    public init(baseURL: String = AzureMetadataService.defaultURL, group: EventLoopGroup) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.group = group
    }

    public init(environment: [String: String], group: EventLoopGroup) {
        let url = environment["AA_AZURE_IMDS_URL"] ?? ""
        self.init(baseURL: url.isEmpty ? Self.defaultURL : url, group: group)
    }

    /// The VCEK certificate (DER) of the SNP host this VM runs on.
    public func vcekCertificate() async throws(PlatformError) -> [UInt8] {
        let target = baseURL + Self.vcekPath
        let answer = try await json(.GET, Self.vcekPath, body: nil)
        guard let pem = answer["vcekCert"]?.string else {
            throw PlatformError(.deviceFailure, "the metadata service at \(target) answered without a vcekCert")
        }
        guard let der = Self.firstCertificate(pem) else {
            throw PlatformError(
                .deviceFailure, "the metadata service at \(target) answered a vcekCert that is not a PEM certificate")
        }
        return der
    }

    /// A TD quote for `report` (a TDREPORT), signed by the host's quoting enclave.
    public func tdQuote(report: [UInt8]) async throws(PlatformError) -> [UInt8] {
        let target = baseURL + Self.tdQuotePath
        let body = JSON.object([("report", .string(Base64.urlEncode(report)))])
        let answer = try await json(.POST, Self.tdQuotePath, body: body.serializedBytes())
        guard let text = answer["quote"]?.string, let quote = Base64.urlDecode(text), !quote.isEmpty else {
            throw PlatformError(
                .deviceFailure, "the metadata service at \(target) answered without a base64url quote")
        }
        return quote
    }

    /// The answer's JSON; retries what may pass (a refused connection, 5xx, 429).
    private func json(_ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws(PlatformError) -> JSON {
        guard let url = ServiceURL(baseURL), !url.secure else {
            throw PlatformError(
                .invalidInput, "the metadata service URL '\(baseURL)' is not an http:// URL with a host and a port")
        }
        var attempt = 1
        while true {
            let retryable: PlatformError
            switch try await send(method, path, to: url, body: body) {
            case .answered(let json): return json
            case .retryable(let failure): retryable = failure
            }
            guard attempt < Self.attempts else { throw retryable }
            attempt += 1
            do { try await Task.sleep(for: Self.retryPause) } catch {
                throw PlatformError(
                    .timedOut, "the call ended while retrying the metadata service at \(baseURL + path)")
            }
        }
    }

    private enum Outcome {
        case answered(JSON)
        case retryable(PlatformError)
    }

    /// One request: its JSON, a failure worth another try, or (thrown) one that is not.
    private func send(
        _ method: HTTPMethod, _ path: String, to url: ServiceURL, body: [UInt8]?
    ) async throws(PlatformError) -> Outcome {
        let target = baseURL + path
        var headers = [("Metadata", "true")]
        if body != nil { headers += [("Content-Type", "application/json"), ("Accept", "application/json")] }
        let answer: HTTPExchange.Answer
        do {
            answer = try await HTTPExchange.send(
                method, path, to: url, headers: headers, body: body ?? [], tls: nil,
                deadline: .now() + Self.requestLimit, maxAnswerSize: Self.maxAnswerSize, group: group)
        } catch HTTPExchange.Failure.timedOut {
            throw PlatformError(
                .timedOut,
                "the metadata service at \(target) did not answer within \(Self.requestLimit.nanoseconds / 1_000_000_000) s"
            )
        } catch is CancellationError {
            throw PlatformError(.timedOut, "the call ended while waiting for the metadata service at \(target)")
        } catch {
            return .retryable(
                PlatformError(.deviceFailure, "cannot reach the metadata service at \(target): \(error)", cause: error))
        }
        let text = String(decoding: answer.body, as: UTF8.self)
        guard answer.status == .ok else {
            let failure = PlatformError(
                .deviceFailure, "the metadata service at \(target) answered \(answer.status.code): \(text.prefix(200))")
            guard answer.status.code >= 500 || answer.status == .tooManyRequests else { throw failure }
            return .retryable(failure)
        }
        do { return .answered(try JSON(parsing: text)) } catch {
            throw PlatformError(
                .deviceFailure,
                "the metadata service at \(target) answered something that is not JSON: \(error); it began: \(text.prefix(200))",
                cause: error)
        }
    }

    /// The DER of the first certificate in PEM text.
    static func firstCertificate(_ pem: String) -> [UInt8]? {
        let text = Array(pem.utf8)
        let begin = Array("-----BEGIN CERTIFICATE-----".utf8)
        let end = Array("-----END CERTIFICATE-----".utf8)
        func find(_ marker: [UInt8], from start: Int) -> Int? {
            guard text.count >= marker.count, start <= text.count - marker.count else { return nil }
            return (start...(text.count - marker.count)).first { text[$0..<$0 + marker.count].elementsEqual(marker) }
        }
        guard let opening = find(begin, from: 0), let closing = find(end, from: opening + begin.count) else {
            return nil
        }
        let body = text[(opening + begin.count)..<closing].filter { ![9, 10, 13, 32].contains($0) }
        return Base64.decode(String(decoding: body, as: UTF8.self)).flatMap { $0.isEmpty ? nil : $0 }
    }
}
