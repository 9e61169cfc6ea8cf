import Configuration
import DataEncoding
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why an exchange with a remote service got no answer, in words a person
/// can act on: what kind of failure, and the system's own meaning of it
/// (an errno's text, a certificate that does not verify). The libraries'
/// descriptions of their error values (type names, address structs, error
/// stacks) stay out of it; the error itself is kept as the cause, for logs.
public struct ConnectionProblem: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The host name does not resolve.
        case unresolved
        /// No connection: refused, no route, reset (the errno says which).
        case unreachable
        /// The TLS handshake failed: a certificate that does not verify, a
        /// name it is not for, a server that speaks no TLS on that port.
        case tls
        /// No answer before the deadline.
        case timedOut
        /// The connection closed before the answer was complete.
        case closedEarly
        /// The answer was longer than the limit.
        case tooLarge
    }

    public let kind: Kind
    public let description: String

    /// `error` as thrown by `HTTPExchange.send` for `service`.
    public init(_ error: any Error, service: ServiceURL) {
        (kind, description) = Self.classify(error, host: service.host)
    }

    private static func classify(_ error: any Error, host: String) -> (Kind, String) {
        switch error {
        case HTTPExchange.Failure.timedOut, ChannelError.connectTimeout:
            return (.timedOut, "no answer before the deadline")
        case HTTPExchange.Failure.tooLarge(let limit):
            return (.tooLarge, "the answer is longer than \(limit) bytes")
        case HTTPExchange.Failure.closedEarly, NIOSSLError.uncleanShutdown, ChannelError.eof,
            ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed:
            return (.closedEarly, "the connection closed before the answer was complete")
        case SocketAddressError.unknown:
            return (.unresolved, "the host name \(host) does not resolve")
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return classify(failure.error, host: host) }
            return (.unresolved, "the host name \(host) does not resolve")
        case let error as IOError:
            return (.unreachable, errnoText(error.errnoCode))
        case let error as NIOSSLError:
            return (.tls, "the TLS handshake failed: " + tlsReason(error))
        case let error as BoringSSLError:
            return (.tls, "the TLS handshake failed: " + tlsReason(error))
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return (.tls, "the TLS handshake failed: the server's certificate is not for \(host)")
        default:
            return (.unreachable, "the connection failed")
        }
    }

    /// strerror's text, as a phrase ("connection refused").
    private static func errnoText(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// What BoringSSL's error stack says, in a sentence; its codes stay out.
    private static func tlsReason(_ error: any Error) -> String {
        // Byte-wise search: String's own `contains` of a string would link
        // the regex runtime (1.2 MB) into the agent.
        let raw = "\(error)"
        func says(_ codes: String...) -> Bool { codes.contains { raw.containsBytes(of: $0) } }
        if says("CERTIFICATE_VERIFY_FAILED") {
            return "the server's certificate does not verify against the trusted roots"
        }
        if says("WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG") {
            return "the server does not speak TLS on that port"
        }
        if says("UNSUPPORTED_PROTOCOL", "NO_SHARED_CIPHER", "HANDSHAKE_FAILURE") {
            return "the server and the agent share no TLS version or cipher"
        }
        return "the server ended it"
    }
}
