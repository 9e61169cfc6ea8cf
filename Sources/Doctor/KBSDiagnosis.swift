import DataEncoding
import TOML

/// Whether the configured KBS answers the first step of trustee's KBS
/// protocol 0.4.0 (`POST /kbs/v0/auth`) with a challenge.
public enum KBSDiagnosis {
    /// The protocol version the agent speaks.
    public static let protocolVersion = "0.4.0"

    /// `[token_configs.kbs]` of an aa.toml: its URL and the certificate it adds to the trusted roots; nil without one.
    public static func settings(aaToml: String) throws(DoctorFailure) -> (url: String, cert: String?)? {
        let document: [String: TOMLValue]
        do { document = try TOMLParser.parse(aaToml) } catch {
            throw DoctorFailure("the configuration is not TOML: \(error)")
        }
        guard let kbs = document["token_configs"]?.table?["kbs"]?.table else { return nil }
        guard let url = kbs["url"]?.string else {
            throw DoctorFailure("[token_configs.kbs] has no url string")
        }
        return (url, kbs["cert"]?.string)
    }

    /// What the KBS answered, and how long the exchange took.
    public struct Answer: Sendable {
        public let status: Int
        public let body: String
        public let milliseconds: Int
        public init(status: Int, body: String, milliseconds: Int) {
            self.status = status
            self.body = body
            self.milliseconds = milliseconds
        }
    }

    /// Where the exchange stopped when there is no answer.
    public enum Failure: Error, Sendable {
        case connect(String)
        case tls(String)
        case timedOut(seconds: Int)
    }

    public static func check(url: String, pinnedCertificate: Bool, answer: Result<Answer, Failure>) -> DoctorCheck {
        let target = url + "/kbs/v0/auth"
        switch answer {
        case .failure(.connect(let reason)):
            return .fail(
                "KBS", "cannot reach \(target): \(reason)",
                fix: "check the URL in [token_configs.kbs], the guest's DNS and routes, and that the KBS runs")
        case .failure(.tls(let reason)):
            return .fail(
                "KBS", "TLS with \(url) failed: \(reason)",
                fix: pinnedCertificate
                    ? "neither the guest's trusted roots nor [token_configs.kbs] cert vouch for the KBS's certificate: put the KBS's current certificate, or its CA's (PEM), there"
                    : "put the KBS's certificate, or its CA's (PEM), in [token_configs.kbs] cert, or give the KBS one the guest's trusted roots accept"
            )
        case .failure(.timedOut(let seconds)):
            return .fail(
                "KBS", "\(target) did not answer within \(seconds) s",
                fix: "check that nothing between the guest and the KBS drops the connection, and the KBS's load")
        case .success(let answer):
            let challenge = (try? JSON(parsing: answer.body))?["nonce"]?.string
            if answer.status == 200, challenge != nil {
                return .pass(
                    "KBS", "\(target) answered a challenge to protocol \(protocolVersion) in \(answer.milliseconds) ms")
            }
            return .fail(
                "KBS",
                "\(target) answered \(answer.status) to protocol \(protocolVersion) in \(answer.milliseconds) ms: \(answer.body.prefix(200))",
                fix:
                    "use a KBS that speaks trustee's KBS protocol \(protocolVersion) (the agent speaks no other), and check the URL's path"
            )
        }
    }
}

extension KBSDiagnosis {
    /// The KBS's host name resolved (or an address given as one).
    public static func addressCheck(host: String, addresses: Result<[String], DoctorFailure>) -> DoctorCheck {
        switch addresses {
        case .success(let found) where found == [host]:
            return .pass("KBS address", "\(host) is an address: no DNS needed")
        case .success(let found) where !found.isEmpty:
            return .pass("KBS address", "\(host) resolves to \(found.prefix(4).joined(separator: ", "))")
        case .success:
            return .fail(
                "KBS address", "\(host) resolves to nothing",
                fix: "check the guest's DNS (/etc/resolv.conf) and the KBS's name")
        case .failure(let failure):
            return .fail(
                "KBS address", "\(host) does not resolve: \(failure.description)",
                fix: "check the guest's DNS (/etc/resolv.conf) and the KBS's name in [token_configs.kbs] url")
        }
    }

    /// A TCP connection to the KBS's port, timed.
    public static func connectionCheck(
        host: String, port: Int, milliseconds: Result<Int, DoctorFailure>
    ) -> DoctorCheck {
        switch milliseconds {
        case .success(let elapsed):
            return .pass("KBS connection", "TCP to \(host):\(port) in \(elapsed) ms")
        case .failure(let failure):
            return .fail(
                "KBS connection", "no TCP connection to \(host):\(port): \(failure.description)",
                fix:
                    "check that the KBS listens on that port and that the guest's network (routes, proxies, firewalls) lets it through"
            )
        }
    }

    /// `aactl doctor --token`: a whole GetToken through the agent, timed.
    public static func tokenCheck(milliseconds: Result<Int, DoctorFailure>) -> DoctorCheck {
        switch milliseconds {
        case .success(let elapsed):
            return .pass("token", "GetToken kbs answered a token in \(elapsed) ms")
        case .failure(let failure):
            return .fail(
                "token", "GetToken kbs failed: \(failure.description)",
                fix:
                    "the KBS's reason is in the message: its policy or reference values refuse this evidence, or see the checks above"
            )
        }
    }
}
