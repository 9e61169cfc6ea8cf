import DataEncoding
import RPCStatus
import TOML

/// An initdata document as the host delivers it (trustee's initdata spec):
/// `version`, `algorithm` (sha256, sha384, sha512) and a `data` table of
/// strings such as `aa.toml`, `cdh.toml` and `policy.rego`. The digest is
/// taken over the document's exact bytes.
public struct InitDataDocument: Sendable, Equatable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, sha384, sha512

        public var digestSize: Int {
            switch self {
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            }
        }

        public func digest(_ bytes: some Sequence<UInt8>) -> [UInt8] {
            let data = Array(bytes)
            switch self {
            case .sha256: return SHA2.sha256(data)
            case .sha384: return SHA2.sha384(data)
            case .sha512: return SHA2.sha512(data)
            }
        }
    }

    public let text: String
    public let version: String
    public let algorithm: Algorithm
    public let data: [String: String]

    public init(text: String) throws(InitDataError) {
        let table: [String: TOMLValue]
        do {
            table = try TOMLParser.parse(text)
        } catch {
            throw InitDataError("initdata is not valid TOML: \(error)")
        }
        guard let version = table["version"]?.string else {
            throw InitDataError("initdata has no `version` string (expected e.g. version = \"0.1.0\")")
        }
        guard let name = table["algorithm"]?.string else {
            throw InitDataError("initdata has no `algorithm` string (sha256, sha384 or sha512)")
        }
        guard let algorithm = Algorithm(rawValue: name) else {
            throw InitDataError("initdata algorithm '\(name)' is not one of sha256, sha384, sha512")
        }
        var data: [String: String] = [:]
        if let entries = table["data"] {
            guard let entries = entries.table else {
                throw InitDataError("initdata `data` must be a table of strings, found a \(entries.typeName)")
            }
            for (key, value) in entries {
                guard let string = value.string else {
                    throw InitDataError("initdata data.\"\(key)\" must be a string, found a \(value.typeName)")
                }
                data[key] = string
            }
        }
        self.text = text
        self.version = version
        self.algorithm = algorithm
        self.data = data
    }

    /// The digest of the document's exact bytes with its own algorithm.
    public var digest: [UInt8] { algorithm.digest(text.utf8) }

    /// The agent's own configuration, when the document carries one.
    public var agentConfig: String? { data["aa.toml"] }
}

/// Why a text is not an initdata document: INVALID_ARGUMENT on the wire.
public struct InitDataError: RPCErrorConvertible, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
    public var rpcCode: StatusCode { .invalidArgument }
}
