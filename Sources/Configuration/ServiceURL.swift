/// Where a remote service (a KBS, an attestation service) listens: what the
/// token client needs of an `http://` or `https://` URL. The configuration
/// accepts a URL only if this parses it, so a URL the client cannot use is
/// refused when it is configured, not at the first GetToken.
public struct ServiceURL: Sendable, Equatable {
    public let secure: Bool
    /// The host as the socket wants it: an IPv6 literal without its brackets.
    public let host: String
    public let port: Int
    /// What precedes each request path ("" or "/prefix"), with no trailing slash.
    public let pathPrefix: String

    /// The `Host` header: the authority as written, the port only when not the scheme's own.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst(7)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var prefix = String(rest.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" })
        while prefix.hasSuffix("/") { prefix.removeLast() }
        pathPrefix = prefix
        guard !authority.contains("@") else { return nil }  // credentials in a URL are not supported
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard Self.isHost(host, bracketed: authority.hasPrefix("[")) else { return nil }
        if let portText {
            // An empty port is the scheme's own (RFC 3986, 3.2.3).
            // Digits by byte: a Character "0" followed by a combining mark
            // falls between "0" and "9" yet is no digit.
            guard portText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                portText.utf8.count <= 5
            else { return nil }
            guard let port = portText.isEmpty ? (secure ? 443 : 80) : Int(portText), (1...65535).contains(port)
            else { return nil }
            self.port = port
        } else {
            port = secure ? 443 : 80
        }
    }

    /// A DNS name or IPv4 address (letters, digits, "-", ".", "_", "~"), or
    /// inside brackets an IPv6 address (hex digits, ":" and "."). Nothing
    /// else: the name goes into a socket address, SNI and the Host header.
    private static func isHost(_ host: String, bracketed: Bool) -> Bool {
        guard !host.isEmpty else { return false }
        if bracketed {
            return host.contains(":")
                && host.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }
        }
        return host.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "-._~".unicodeScalars.contains($0)
        }
    }
}
