/// Whether the configured KBS answers the first step of trustee's KBS
/// protocol 0.4.0 (`POST /kbs/v0/auth`) with a challenge, asked by the
/// agent's own KBS client (`KBSSession`), so that doctor judges what the
/// agent would see.
public enum KBSDiagnosis {
    /// What asking for the challenge came to.
    public enum ChallengeOutcome: Sendable, Equatable {
        case challenged(milliseconds: Int)
        /// No connection (the host name, the route, a refusal), in the client's words.
        case unreachable(String)
        /// The TLS handshake failed, and why.
        case tls(String)
        /// No answer within the limit, in the client's words.
        case timedOut(String)
        /// The KBS answered, but not with a challenge (a refusal, an error, another protocol).
        case notAChallenge(String)
    }

    public static func check(url: String, pinnedCertificate: Bool, outcome: ChallengeOutcome) -> DoctorCheck {
        let target = url + "/kbs/v0/auth"
        let version = "0.4.0"
        switch outcome {
        case .unreachable(let reason):
            return .fail(
                "KBS", reason,
                fix: "check the URL in [token_configs.kbs], the guest's DNS and routes, and that the KBS runs")
        case .tls(let reason):
            return .fail(
                "KBS", reason,
                fix: pinnedCertificate
                    ? "neither the guest's trusted roots nor [token_configs.kbs] cert vouch for the KBS's certificate: put the KBS's current certificate, or its CA's (PEM), there"
                    : "put the KBS's certificate, or its CA's (PEM), in [token_configs.kbs] cert, or give the KBS one the guest's trusted roots accept"
            )
        case .timedOut(let reason):
            return .fail(
                "KBS", reason,
                fix: "check that nothing between the guest and the KBS drops the connection, and the KBS's load")
        case .challenged(let milliseconds):
            return .pass("KBS", "\(target) answered a challenge to protocol \(version) in \(milliseconds) ms")
        case .notAChallenge(let reason):
            return .fail(
                "KBS", reason,
                fix:
                    "use a KBS that speaks trustee's KBS protocol \(version) (the agent speaks no other), and check the URL's path"
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
