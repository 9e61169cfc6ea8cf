import LocalFiles
import NIOConcurrencyHelpers
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

    /// Contexts already made, by the certificate configured. Making one reads
    /// and parses the system's CA bundle, which every GetToken would repeat;
    /// a configuration is set once per boot, so this holds one or two entries
    /// (at most `cacheLimit`). A context is immutable and shared safely.
    private static let made = NIOLockedValueBox<[String?: NIOSSLContext]>([:])
    static let cacheLimit = 8

    /// A client context trusting the system's roots and `additionalPEM` (one
    /// or more certificates); only `additionalPEM` when the system has none.
    public static func context(trustingAlso additionalPEM: String?) throws(Failure) -> NIOSSLContext {
        if let known = made.withLockedValue({ $0[additionalPEM] }) { return known }
        let context = try makeContext(trustingAlso: additionalPEM)
        made.withLockedValue { contexts in
            if contexts.count >= cacheLimit { contexts.removeAll() }
            contexts[additionalPEM] = context
        }
        return context
    }

    /// Where the system's roots are looked for, as swift-nio-ssl looks on
    /// Linux (Debian and its kin, then Fedora's). Found here rather than by
    /// NIOSSL's `.default`, whose context leaks when no bundle exists.
    static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]

    private static func makeContext(trustingAlso additionalPEM: String?) throws(Failure) -> NIOSSLContext {
        var configured: [NIOSSLCertificate] = []
        if let additionalPEM {
            do { configured = try NIOSSLCertificate.fromPEMBytes(Array(additionalPEM.utf8)) } catch {
                throw .certificateNotPEM("\(error)")
            }
            guard !configured.isEmpty else { throw .certificateNotPEM("it holds no certificate") }
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        var systemRootsFailure = "no CA bundle at \(systemBundles.joined(separator: " or "))"
        if let bundle = systemBundles.first(where: LocalFile.isRegularFile) {
            configuration.trustRoots = .file(bundle)
            if !configured.isEmpty { configuration.additionalTrustRoots = [.certificates(configured)] }
            do { return try NIOSSLContext(configuration: configuration) } catch {
                systemRootsFailure = "\(bundle) does not load: \(error)"
            }
        }
        guard !configured.isEmpty else { throw .noTrustedRoots(systemRootsFailure) }
        configuration.trustRoots = .certificates(configured)
        configuration.additionalTrustRoots = []
        do { return try NIOSSLContext(configuration: configuration) } catch { throw .setUp("\(error)") }
    }
}
