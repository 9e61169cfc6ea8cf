import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import TestSupport
import Testing
import _CryptoExtras

/// GetToken against a KBS and an attestation service on loopback, through the real binary.
@Suite struct TokenTests {
    static let field = String(repeating: "7e", count: 32)

    /// An agent and a connection to it; closing ends both.
    struct Connected {
        let agent: AgentProcess
        let client: TTRPCClient

        func close() async {
            await client.close()
            withExtendedLifetime(agent) {}
        }
    }

    /// An agent bound and configured with `config`, ready to fetch tokens.
    static func configuredAgent(_ config: String, environment: [String: String] = [:]) async throws -> Connected {
        let agent = try AgentProcess(environment: environment.merging(["AA_SAMPLE_INITDATA": field]) { $1 })
        let client = try await agent.waitUntilListening()
        try await client.bind([UInt8](repeating: 0x7E, count: 32))
        try await client.update(config)
        return Connected(agent: agent, client: client)
    }

    static func token(
        _ client: TTRPCClient, _ type: String = "kbs", timeout: Double = 20
    ) async throws -> [String: String] {
        let response: GetTokenResponse = try await client.call(
            .getToken, GetTokenRequest(tokenType: type), timeout: timeout)
        return try #require(try JSONSerialization.jsonObject(with: Data(response.token)) as? [String: String])
    }

    @Test func tokenVerifiesAndTheKeyPairIsTheOneTheKBSSaw() async throws {
        let kbs = try await TestKBS()
        let connected = try await Self.configuredAgent("[token_configs.kbs]\nurl = \"\(kbs.url)\"\n")
        let agent = connected.agent
        let client = connected.client
        let reply = try await Self.token(client)
        let token = try #require(reply["token"])
        let claims = try #require(try kbs.verifiedClaims(token), "the JWT signature verifies")
        #expect(claims["iss"] as? String == "test-kbs")
        #expect(claims["tee"] as? String == "sample")
        let jwk = try #require(claims["tee-pubkey"] as? [String: String])
        #expect(jwk["kty"] == "EC" && jwk["crv"] == "P-256" && jwk["alg"] == "ECDH-ES+A256KW")
        let pem = try #require(reply["tee_keypair"])
        let key = try P256.KeyAgreement.PrivateKey(pemRepresentation: pem)
        let raw = key.publicKey.rawRepresentation
        #expect(Data(base64URL: jwk["x"]!) == raw.prefix(32))
        #expect(Data(base64URL: jwk["y"]!) == raw.suffix(32))

        // Two requests, the cookie of the first carried by the second.
        let requests = kbs.requests
        #expect(requests.map { $0["path"] as? String } == ["/kbs/v0/auth", "/kbs/v0/attest"])
        #expect((requests[1]["cookie"] as? String)?.hasPrefix("kbs-session-id=") == true)
        // Neither the token nor the private key reach the log.
        #expect(!agent.stderr.contains(reply["token"]!))
        #expect(!agent.stderr.contains("PRIVATE KEY"))
        await connected.close()
    }

    @Test func beforeBindingNothingIsAsked() async throws {
        let kbs = try await TestKBS()
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": Self.field])
        let client = try await agent.waitUntilListening()
        do {
            _ = try await Self.token(client)
            Issue.record("a token before binding")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
        }
        #expect(kbs.requests.isEmpty, "the KBS saw no request")
        await client.close()
    }

    @Test func initDataIsSentWithTheAttestation() async throws {
        let kbs = try await TestKBS()
        let document = """
            version = "0.1.0"
            algorithm = "sha384"

            [data]
            "aa.toml" = '''
            [token_configs.kbs]
            url = "\(kbs.url)"
            '''

            """
        let digest = SHA384.hash(data: Data(document.utf8)).map { String(format: "%02x", $0) }.joined()
        let agent = try AgentProcess(initdata: document, environment: ["AA_SAMPLE_INITDATA": digest])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Configured")
        let token = try #require(try await Self.token(client)["token"])
        let claims = try #require(try kbs.verifiedClaims(token))
        #expect(claims["init-data"] as? String == digest, "the KBS received the document itself")
        await client.close()
    }

    @Test func kbsSelectsTheHash() async throws {
        let kbs = try await TestKBS(["--select-hash", "sha256"])
        let connected = try await Self.configuredAgent("[token_configs.kbs]\nurl = \"\(kbs.url)\"\n")
        let client = connected.client
        let token = try #require(try await Self.token(client)["token"])
        #expect(try kbs.verifiedClaims(token) != nil)
        await connected.close()
    }

    @Test func rsaKeyWhenConfigured() async throws {
        let kbs = try await TestKBS()
        let connected = try await Self.configuredAgent(
            "[token_configs.kbs]\nurl = \"\(kbs.url)\"\ntee_key_algorithm = \"RSA-OAEP-256\"\n")
        let client = connected.client
        let reply = try await Self.token(client)
        let token = try #require(reply["token"])
        let claims = try #require(try kbs.verifiedClaims(token))
        let jwk = try #require(claims["tee-pubkey"] as? [String: String])
        #expect(jwk["kty"] == "RSA" && jwk["alg"] == "RSA-OAEP-256")
        let pem = try #require(reply["tee_keypair"])
        let key = try _RSA.Encryption.PrivateKey(pemRepresentation: pem)
        #expect(Data(base64URL: jwk["n"]!) == (try key.publicKey.getKeyPrimitives()).modulus)
        await connected.close()
    }

    /// A launcher that gives the agent a mount namespace whose /etc/ssl holds
    /// only `bundle` as the system's CA bundle (none when nil), so that the
    /// agent reads the system's trusted roots where it always does.
    static func withSystemRoots(_ bundle: String?) -> [String] {
        let install =
            bundle.map { "mkdir -p /etc/ssl/certs && cp '\($0)' /etc/ssl/certs/ca-certificates.crt && " } ?? ""
        return [
            "/usr/bin/unshare", "--mount", "/bin/sh", "-c",
            "mount -t tmpfs none /etc/ssl && \(install)exec \"$0\" \"$@\"",
        ]
    }

    /// upstream's `cert` adds a root to the system's: a KBS whose certificate
    /// a system root vouches for is reached with an unrelated `cert`
    /// configured; in an image without a CA bundle the configured `cert`
    /// alone is trusted, and with neither GetToken says there is nothing to
    /// trust. Needs a mount namespace (root), as the agent reads the real /etc/ssl.
    @Test(
        .enabled(
            if: getuid() == 0 || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
            "needs root for a mount namespace"))
    func theConfiguredCertificateAddsToTheSystemRoots() async throws {
        let folder = try TemporaryFolder("kbs-roots")
        let authority = try TestKBS.certificateAuthority(in: folder.path)
        let unrelated = try TestKBS.selfSignedCertificate(in: folder.path, name: "unrelated")
        let selfSigned = try TestKBS.selfSignedCertificate(in: folder.path, name: "kbs")
        let byCA = try await TestKBS(tls: authority.served)
        let bySelf = try await TestKBS(tls: selfSigned)
        func config(_ kbs: TestKBS, _ cert: String?) throws -> String {
            let pem = try cert.map { try String(contentsOfFile: $0, encoding: .utf8) }
            return "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n" + (pem.map { "cert = '''\n\($0)'''\n" } ?? "")
        }
        let cases: [(String, TestKBS, String?, String?, StatusCode?)] = [
            ("a system root vouches, an unrelated cert configured", byCA, authority.ca, unrelated.cert, nil),
            ("a system root vouches, no cert configured", byCA, authority.ca, nil, nil),
            ("no system root vouches, the KBS's cert configured", bySelf, authority.ca, selfSigned.cert, nil),
            (
                "no system root vouches, an unrelated cert configured", bySelf, authority.ca, unrelated.cert,
                .unavailable
            ),
            ("no CA bundle in the image, the KBS's cert configured", bySelf, nil, selfSigned.cert, nil),
            ("no CA bundle in the image, no cert configured", byCA, nil, nil, .failedPrecondition),
        ]
        for (name, kbs, bundle, cert, failure) in cases {
            let agent = try AgentProcess(
                environment: ["AA_SAMPLE_INITDATA": Self.field], launcher: Self.withSystemRoots(bundle))
            let client = try await agent.waitUntilListening()
            try await client.bind([UInt8](repeating: 0x7E, count: 32))
            try await client.update(try config(kbs, cert))
            do {
                let token = try #require(try await Self.token(client)["token"])
                #expect(failure == nil, "\(name): a token")
                #expect(try kbs.verifiedClaims(token) != nil, "\(name)")
            } catch let error as TTRPCError {
                #expect(error.code == failure, "\(name): \(error)")
                if failure == .failedPrecondition {
                    #expect(error.message.contains("no certificate to trust"), "\(name): \(error.message)")
                }
            }
            await client.close()
        }
    }

    @Test func httpsTrustsTheConfiguredCertificate() async throws {
        let folder = try TemporaryFolder("kbs-tls")
        let served = try TestKBS.selfSignedCertificate(in: folder.path, name: "kbs")
        let other = try TestKBS.selfSignedCertificate(in: folder.path, name: "other")
        let kbs = try await TestKBS(tls: served)
        for (certificate, succeeds) in [(served.cert, true), (other.cert, false)] {
            let pem = try String(contentsOfFile: certificate, encoding: .utf8)
            let connected = try await Self.configuredAgent(
                "[token_configs.kbs]\nurl = \"\(kbs.url)\"\ncert = '''\n\(pem)'''\n")
            let client = connected.client
            do {
                let reply = try await Self.token(client)
                #expect(succeeds, "a KBS with another certificate was trusted")
                let token = try #require(reply["token"])
                #expect(try kbs.verifiedClaims(token) != nil)
            } catch let error as TTRPCError {
                #expect(!succeeds, "\(error)")
                #expect(error.code == .unavailable)
                #expect(error.message.contains(kbs.url))
            }
            await connected.close()
        }
    }

    /// GetToken against `kbsURL` (with `extraConfig`) must fail with `code`, naming `mention`.
    static func expectTokenError(
        kbsURL: String, extraConfig: String = "", _ code: StatusCode, mentioning mention: String
    ) async throws {
        let connected = try await configuredAgent("[token_configs.kbs]\nurl = \"\(kbsURL)\"\n" + extraConfig)
        do {
            _ = try await token(connected.client)
            Issue.record("a token came back; expected \(code)")
        } catch let error as TTRPCError {
            #expect(error.code == code, "\(error)")
            #expect(error.message.contains(mention), "\(error.message)")
        }
        await connected.close()
    }

    @Test func errorsAPersonCanActOn() async throws {
        // Unreachable: a port nobody listens on.
        try await Self.expectTokenError(kbsURL: "http://127.0.0.1:9", .unavailable, mentioning: "http://127.0.0.1:9")
        let refusing = try await TestKBS(["--deny", "policy says no: debug TDs are not trusted"])
        try await Self.expectTokenError(
            kbsURL: refusing.url, .permissionDenied, mentioning: "policy says no: debug TDs are not trusted")
        let garbled = try await TestKBS(["--malformed"])
        try await Self.expectTokenError(kbsURL: garbled.url, .internal, mentioning: "not valid JSON")
        // An unpaired surrogate escape once killed the agent (issue 9).
        let surrogate = try await TestKBS(["--lone-surrogate"])
        try await Self.expectTokenError(kbsURL: surrogate.url, .internal, mentioning: "not valid JSON: byte")
        let slow = try await TestKBS(["--delay", "5"])
        try await Self.expectTokenError(
            kbsURL: slow.url, extraConfig: "timeout = 1\n", .deadlineExceeded, mentioning: slow.url)
    }

    /// The four ways a KBS can fail to answer, each in the agent's words:
    /// what failed, at which URL, the system's meaning of it, the attempts;
    /// none of the network libraries' descriptions of their error values.
    @Test func connectionFailuresReadInTheAgentsWords() async throws {
        func message(_ url: String, _ extra: String = "") async throws -> String {
            let connected = try await Self.configuredAgent("[token_configs.kbs]\nurl = \"\(url)\"\n" + extra)
            defer { Task { await connected.close() } }
            do {
                _ = try await Self.token(connected.client)
                Issue.record("a token from \(url)")
                return ""
            } catch let error as TTRPCError {
                for fragment in [
                    "NIOConnectionError", "SingleConnectionFailure", "IOError", "errno", "NIOSSL", "BoringSSL",
                    "OPENSSL", "SSL routines", "[IPv4]", "ChannelError", "SocketAddressError",
                ] {
                    #expect(!error.message.contains(fragment), "\(fragment) in: \(error.message)")
                }
                #expect(error.message.contains("(attempt "), "\(error.message)")
                return error.message
            }
        }
        // Refused: a port on loopback where nothing listens.
        let closed = try await message("http://127.0.0.1:9", "timeout = 3\n")
        #expect(
            closed.hasPrefix("cannot reach the KBS at http://127.0.0.1:9/kbs/v0/auth: connection refused"), "\(closed)")
        // Unreachable: a name that does not resolve (RFC 6761's .invalid).
        let unnamed = try await message("http://kbs.invalid:8080", "timeout = 3\n")
        #expect(
            unnamed.hasPrefix(
                "cannot reach the KBS at http://kbs.invalid:8080/kbs/v0/auth: the host name kbs.invalid does not resolve"
            ), "\(unnamed)")
        // TLS: a KBS whose certificate nothing trusts.
        let folder = try TemporaryFolder("token-tls")
        let untrusted = try await TestKBS(tls: try TestKBS.selfSignedCertificate(in: folder.path, name: "kbs"))
        let tls = try await message(untrusted.url, "timeout = 3\n")
        #expect(
            tls.hasPrefix(
                "cannot reach the KBS at \(untrusted.url)/kbs/v0/auth: the TLS handshake failed: the server's certificate does not verify against the trusted roots"
            ), "\(tls)")
        // Timed out: a socket that takes connections and never answers.
        let silent = try SilentListener()
        let quiet = try await message("http://127.0.0.1:\(silent.port)", "timeout = 1\n")
        #expect(
            quiet.hasPrefix("the KBS at http://127.0.0.1:\(silent.port)/kbs/v0/auth did not answer within 1000 ms"),
            "\(quiet)")
        withExtendedLifetime(silent) {}
    }

    /// A TCP listener on loopback that never accepts: the kernel completes
    /// the handshake, and the request waits for an answer that never comes.
    final class SilentListener {
        let descriptor: Int32
        let port: Int

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.descriptor = descriptor
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && listen(descriptor, 16) == 0
                        && getsockname(descriptor, $0, &length) == 0
                }
            }
            guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(descriptor) }
    }

    @Test func cocoAttestationService() async throws {
        let service = try await TestKBS()
        let connected = try await Self.configuredAgent("[token_configs.coco_as]\nurl = \"\(service.url)\"\n")
        let client = connected.client
        let response: GetTokenResponse = try await client.call(.getToken, GetTokenRequest(tokenType: "coco_as"))
        let claims = try #require(try service.verifiedClaims(String(decoding: response.token, as: UTF8.self)))
        #expect(claims["tee"] as? String == "sample")
        #expect((claims["evidence"] as? [String: String])?["svn"] == "1")
        do {
            _ = try await Self.token(client, "kbs")
            Issue.record("kbs without a KBS")
        } catch let error as TTRPCError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message.contains("[token_configs.kbs]"))
        }
        await connected.close()
    }

    /// trustee answers 401 for transient failures too: upstream tries the
    /// whole handshake 5 times, a second apart, and so does this agent.
    @Test func transientRefusalsAreRetriedFiveTimesInAll() async throws {
        let flaky = try await TestKBS(["--fail-first", "3"])
        let connected = try await Self.configuredAgent("[token_configs.kbs]\nurl = \"\(flaky.url)\"\n")
        let token = try #require(try await Self.token(connected.client)["token"])
        #expect(try flaky.verifiedClaims(token) != nil)
        #expect(flaky.requests.filter { $0["path"] as? String == "/kbs/v0/attest" }.count == 4)
        await connected.close()

        let refusing = try await TestKBS(["--fail-first", "100"])
        try await Self.expectTokenError(kbsURL: refusing.url, .permissionDenied, mentioning: "transient failure 5")
        #expect(
            refusing.requests.filter { $0["path"] as? String == "/kbs/v0/attest" }.count == 5, "five attempts, no more")
    }

    /// ENABLE_SAMPLE_DEVICE adds upstream's sample device: its evidence is
    /// additional evidence in the handshake, bound as trustee's KBS checks it.
    @Test func sampleDeviceEvidenceTravelsAsAdditionalEvidence() async throws {
        let kbs = try await TestKBS()
        let connected = try await Self.configuredAgent(
            "[token_configs.kbs]\nurl = \"\(kbs.url)\"\n",
            environment: ["ENABLE_SAMPLE_DEVICE": "1"])
        let client = connected.client
        let tees: GetAdditionalTeesResponse = try await client.call(.getAdditionalTees, EmptyMessage())
        #expect(tees.additionalTees == ["sampledevice"])
        let evidence: GetEvidenceResponse = try await client.call(
            .getAdditionalEvidence, GetEvidenceRequest(runtimeData: [1, 2]))
        #expect(
            String(decoding: evidence.evidence, as: UTF8.self) == #"{"sampledevice":{"svn":"2","report_data":"AQI="}}"#)
        let token = try #require(try await Self.token(client)["token"])
        let claims = try #require(try kbs.verifiedClaims(token))
        #expect(claims["additional"] as? [String] == ["sampledevice"])
        await connected.close()
    }
}
