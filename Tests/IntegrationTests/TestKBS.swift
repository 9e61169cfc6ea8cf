import Crypto
import Foundation
import TestSupport

/// Tests/KBS/test_kbs.py on a loopback port, for one test.
final class TestKBS: @unchecked Sendable {
    private let child: ChildProcess
    let directory: String
    let port: Int
    let scheme: String

    var url: String { "\(scheme)://127.0.0.1:\(port)" }
    var recordPath: String { directory + "/requests.jsonl" }

    init(_ options: [String] = [], tls: (cert: String, key: String)? = nil) async throws {
        directory = NSTemporaryDirectory() + "test-kbs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        scheme = tls == nil ? "http" : "https"
        var arguments = [
            "/usr/bin/python3", PackagePaths.root + "/Tests/KBS/test_kbs.py", "--key-out", directory + "/jwt.key",
            "--record", directory + "/requests.jsonl",
        ]
        if let tls { arguments += ["--tls", tls.cert, tls.key] }
        let output = Pipe()
        child = try ChildProcess(
            arguments + options, inheriting: true, stderrPath: directory + "/kbs.log", stdout: output)
        self.port = try Self.listeningPort(output, what: "test KBS", log: directory + "/kbs.log")
    }

    /// The port in the "listening PORT" line a loopback helper prints once ready.
    static func listeningPort(_ output: Pipe, what: String, log: String? = nil) throws -> Int {
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard
            let port = line.split(separator: " ").last.flatMap({
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            })
        else {
            let said = log.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            throw CocoaError(
                .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "\(what) did not start: \(line) \(said)"])
        }
        return port
    }

    deinit {
        child.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every request the KBS received, in order.
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The claims of `token` if its HS256 signature verifies with this KBS's key, else nil.
    func verifiedClaims(_ token: String) throws -> [String: Any]? {
        let parts = token.split(separator: ".").map(String.init)
        guard parts.count == 3 else { return nil }
        let key = SymmetricKey(data: try Data(contentsOf: URL(fileURLWithPath: directory + "/jwt.key")))
        guard let signature = Data(base64URL: parts[2]),
            HMAC<SHA256>.isValidAuthenticationCode(
                signature, authenticating: Data("\(parts[0]).\(parts[1])".utf8), using: key),
            let payload = Data(base64URL: parts[1])
        else { return nil }
        return try JSONSerialization.jsonObject(with: payload) as? [String: Any]
    }

    /// A certificate authority, and a certificate for 127.0.0.1 that it signed, by the openssl command.
    static func certificateAuthority(in directory: String) throws -> (ca: String, served: (cert: String, key: String)) {
        let ca = directory + "/ca.pem"
        let cert = directory + "/served-by-ca.pem"
        let key = directory + "/served-by-ca.key"
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.cnf", atomically: true, encoding: .utf8)
        for arguments in [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=test CA", "-keyout", directory + "/ca.key", "-out", ca,
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=kbs",
                "-keyout", key, "-out", directory + "/served.csr",
            ],
            [
                "x509", "-req", "-in", directory + "/served.csr", "-CA", ca, "-CAkey", directory + "/ca.key",
                "-CAcreateserial", "-days", "1", "-out", cert, "-extfile", directory + "/san.cnf",
            ],
        ] {
            let result = try CommandResult.run(path: "/usr/bin/openssl", arguments)
            guard result.status == 0 else {
                throw CocoaError(
                    .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "openssl: \(result.stderr)"])
            }
        }
        return (ca, (cert, key))
    }

    /// A self-signed certificate for 127.0.0.1, by the openssl command.
    static func selfSignedCertificate(in directory: String, name: String) throws -> (cert: String, key: String) {
        let cert = directory + "/\(name).pem"
        let key = directory + "/\(name).key"
        let result = try CommandResult.run(
            path: "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
            ])
        guard result.status == 0 else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "openssl: \(result.stderr)"])
        }
        return (cert, key)
    }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
