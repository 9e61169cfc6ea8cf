import Configuration
import Testing

/// The URLs the configuration accepts are those the token client can use.
@Suite struct ServiceURLTests {
    @Test func serviceURLs() {
        let cases: [(String, ServiceURL.Parts?)] = [
            ("http://kbs", .init(secure: false, host: "kbs", port: 80, pathPrefix: "", hostHeader: "kbs")),
            (
                "https://kbs.example:8443/api/",
                .init(secure: true, host: "kbs.example", port: 8443, pathPrefix: "/api", hostHeader: "kbs.example:8443")
            ),
            ("https://kbs:443", .init(secure: true, host: "kbs", port: 443, pathPrefix: "", hostHeader: "kbs")),
            (
                "http://[fd00::1]:8080/x?q#f",
                .init(secure: false, host: "fd00::1", port: 8080, pathPrefix: "/x", hostHeader: "[fd00::1]:8080")
            ),
            ("http://[::1]", .init(secure: false, host: "::1", port: 80, pathPrefix: "", hostHeader: "[::1]")),
            (
                "http://10.0.0.1:1",
                .init(secure: false, host: "10.0.0.1", port: 1, pathPrefix: "", hostHeader: "10.0.0.1:1")
            ),
            ("http://kbs:", .init(secure: false, host: "kbs", port: 80, pathPrefix: "", hostHeader: "kbs")),
            ("http://kbs:0", nil), ("http://kbs:65536", nil), ("http://kbs:080080", nil), ("http://kbs:8a", nil),
            ("http://", nil), ("http://:80", nil), ("http://user:pw@kbs", nil), ("http://[::1", nil),
            ("http://[::1]x", nil), ("ftp://kbs", nil), ("kbs:8080", nil), ("http://kbs:+80", nil),
            ("http://kbs:٣", nil),
            // Hosts: a name or address, IPv6 only in brackets.
            ("http://[[a]", nil), ("http://[kbs]", nil), ("http://k bs", nil), ("http://kbs%2f", nil),
            ("http://kbs\\evil", nil), ("http://kb]s", nil), ("http://ĸbs", nil),
            (
                "http://kbs-1.example_x~",
                .init(secure: false, host: "kbs-1.example_x~", port: 80, pathPrefix: "", hostHeader: "kbs-1.example_x~")
            ),
            (
                "http://[::ffff:10.0.0.1]:9",
                .init(
                    secure: false, host: "::ffff:10.0.0.1", port: 9, pathPrefix: "", hostHeader: "[::ffff:10.0.0.1]:9")
            ),
        ]
        for (text, expected) in cases {
            #expect(ServiceURL(text)?.parts == expected, "\(text)")
        }
    }

    /// Refused, never a crash; the combining mark after a port digit was
    /// found by the service-url fuzz target.
    @Test(arguments: [
        "ftp://kbs", "http://", "http://:80", "http://kbs:0", "http://kbs:65536", "http://kbs:123456", "http://kbs:8a",
        "http://kbs:80\u{0487}", "http://[d00::1]:8080\u{0487}?", "http://u@kbs", "http://[fd00::1", "http://[kbs]",
        "http://k b s", "http://kbs\u{0301}",
    ])
    func refused(_ text: String) {
        #expect(ServiceURL(text) == nil)
    }
}

extension ServiceURL {
    struct Parts: Equatable {
        let secure: Bool, host: String, port: Int, pathPrefix: String, hostHeader: String
    }

    var parts: Parts { Parts(secure: secure, host: host, port: port, pathPrefix: pathPrefix, hostHeader: hostHeader) }
}
