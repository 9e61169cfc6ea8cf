import NIOSSL

/// The TLS a client of a configured service (a KBS, an attestation service)
/// uses: the system's trusted roots, plus the certificate the configuration
/// gives, as upstream's `cert` adds a root certificate to its client. A guest
/// image without a system CA bundle trusts only that certificate; without
/// either there is nothing to verify a server against, and that is an error
/// rather than a handshake that can never succeed.
public enum ClientTLS {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The configured certificate does not read as PEM.
        case certificateNotPEM(String)
        /// No system roots could be loaded and no certificate was configured.
        case noTrustedRoots(String)
        /// The TLS context could not be made for another reason.
        case setUp(String)

        public var description: String {
            switch self {
            case .certificateNotPEM(let reason): "the configured certificate is not PEM: \(reason)"
            case .noTrustedRoots(let reason):
                "no certificate to trust: the system's trusted roots could not be loaded (\(reason); a guest image without /etc/ssl/certs/ca-certificates.crt has none) and the configuration gives no cert"
            case .setUp(let reason): "cannot set up TLS: \(reason)"
            }
        }
    }

    /// A client context trusting the system's roots and `additionalPEM` (one
    /// or more certificates); only `additionalPEM` when the system has none.
    public static func context(trustingAlso additionalPEM: String?) throws(Failure) -> NIOSSLContext {
        var configured: [NIOSSLCertificate] = []
        if let additionalPEM {
            do { configured = try NIOSSLCertificate.fromPEMBytes(Array(additionalPEM.utf8)) } catch {
                throw .certificateNotPEM("\(error)")
            }
            guard !configured.isEmpty else { throw .certificateNotPEM("it holds no certificate") }
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .default
        if !configured.isEmpty { configuration.additionalTrustRoots = [.certificates(configured)] }
        let systemRootsFailure: String
        do { return try NIOSSLContext(configuration: configuration) } catch { systemRootsFailure = "\(error)" }
        guard !configured.isEmpty else { throw .noTrustedRoots(systemRootsFailure) }
        configuration.trustRoots = .certificates(configured)
        configuration.additionalTrustRoots = []
        do { return try NIOSSLContext(configuration: configuration) } catch { throw .setUp("\(error)") }
    }
}
