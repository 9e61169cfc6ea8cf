import DataEncoding
import RPCStatus
import TOML

/// The agent's configuration, upstream's schema:
/// `[token_configs.kbs] url, cert`, `[token_configs.coco_as] url`,
/// `[eventlog_config] init_pcr, enable_eventlog`, `[log] level`.
/// Unknown keys are ignored, as upstream's serde does.
public struct AgentConfig: Sendable, Equatable {
    /// The TEE key the KBS wraps secrets to (upstream's `tee_key_algorithm`).
    public enum TEEKeyAlgorithm: String, Sendable, Equatable, CaseIterable {
        case ecdhP256 = "ECDH-ES+A256KW-P256"
        case ecdhP521 = "ECDH-ES+A256KW-P521"
        case rsaOAEP256 = "RSA-OAEP-256"
    }

    /// Seconds a remote call may take unless a field says otherwise.
    public static let defaultTimeoutSeconds: Int64 = 30

    public struct KBS: Sendable, Equatable {
        public var url: String
        /// PEM of a certificate trusted for the KBS's HTTPS besides the system's roots (upstream's `cert`).
        public var cert: String?
        public var teeKeyAlgorithm: TEEKeyAlgorithm
        public var timeoutSeconds: Int64
        public init(
            url: String, cert: String? = nil, teeKeyAlgorithm: TEEKeyAlgorithm = .ecdhP256,
            timeoutSeconds: Int64 = AgentConfig.defaultTimeoutSeconds
        ) {
            self.url = url
            self.cert = cert
            self.teeKeyAlgorithm = teeKeyAlgorithm
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public struct CoCoAS: Sendable, Equatable {
        public var url: String
        public var timeoutSeconds: Int64
        public init(url: String, timeoutSeconds: Int64 = AgentConfig.defaultTimeoutSeconds) {
            self.url = url
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public struct EventLog: Sendable, Equatable {
        public var initPCR: UInt64 = 17
        public var enabled = false
        public init(initPCR: UInt64 = 17, enabled: Bool = false) {
            self.initPCR = initPCR
            self.enabled = enabled
        }
    }

    public var kbs: KBS?
    public var cocoAS: CoCoAS?
    public var eventLog = EventLog()
    public var logLevel = "info"

    public init(kbs: KBS? = nil, cocoAS: CoCoAS? = nil, eventLog: EventLog = EventLog(), logLevel: String = "info") {
        self.kbs = kbs
        self.cocoAS = cocoAS
        self.eventLog = eventLog
        self.logLevel = logLevel
    }

    public enum Format: Sendable {
        case toml, json

        /// A file's format by its name: JSON for `.json`, TOML otherwise (as upstream).
        public init(path: String) { self = path.hasSuffix(".json") ? .json : .toml }
    }

    /// Parses a configuration; `origin` names it in error messages.
    public init(text: String, format: Format, origin: String) throws(StatusError) {
        let document: ConfigDocument
        switch format {
        case .toml:
            do { document = .toml(.table(try TOMLParser.parse(text))) } catch {
                throw StatusError(.invalidArgument, "\(origin) is not valid TOML: \(error)", cause: error)
            }
        case .json:
            do { document = .json(try JSON(parsing: text)) } catch {
                throw StatusError(.invalidArgument, "\(origin) is not valid JSON: \(error)", cause: error)
            }
        }
        guard document.isTable else { throw StatusError(.invalidArgument, "\(origin) must be a table of settings") }
        let reader = ConfigReader(document: document, origin: origin)
        self.init()
        if try reader.isPresent(["token_configs", "kbs"]) {
            let url = try reader.requiredString(["token_configs", "kbs", "url"])
            try Self.checkURL(url, field: "token_configs.kbs.url", origin: origin)
            var algorithm = TEEKeyAlgorithm.ecdhP256
            if let name = try reader.string(["token_configs", "kbs", "tee_key_algorithm"]) {
                guard let chosen = TEEKeyAlgorithm(rawValue: name) else {
                    throw StatusError(
                        .invalidArgument,
                        "\(origin): token_configs.kbs.tee_key_algorithm '\(name)' is not one of \(TEEKeyAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                algorithm = chosen
            }
            kbs = KBS(
                url: url, cert: try reader.string(["token_configs", "kbs", "cert"]), teeKeyAlgorithm: algorithm,
                timeoutSeconds: try Self.timeout(reader, ["token_configs", "kbs", "timeout"], origin: origin))
        }
        if try reader.isPresent(["token_configs", "coco_as"]) {
            let url = try reader.requiredString(["token_configs", "coco_as", "url"])
            try Self.checkURL(url, field: "token_configs.coco_as.url", origin: origin)
            cocoAS = CoCoAS(
                url: url,
                timeoutSeconds: try Self.timeout(reader, ["token_configs", "coco_as", "timeout"], origin: origin))
        }
        if let pcr = try reader.integer(["eventlog_config", "init_pcr"]) {
            guard (0...23).contains(pcr) else {
                throw StatusError(
                    .invalidArgument, "\(origin): eventlog_config.init_pcr must be a PCR index 0...23, got \(pcr)")
            }
            eventLog.initPCR = UInt64(pcr)
        }
        if let enabled = try reader.bool(["eventlog_config", "enable_eventlog"]) { eventLog.enabled = enabled }
        // A tracing filter string, as upstream takes it: read by LogLevelFilter,
        // and never a reason to refuse the configuration.
        if let level = try reader.string(["log", "level"]) { logLevel = level }
    }

    private static func timeout(_ reader: ConfigReader, _ path: [String], origin: String) throws(StatusError) -> Int64 {
        guard let seconds = try reader.integer(path) else { return defaultTimeoutSeconds }
        guard (1...3600).contains(seconds) else {
            throw StatusError(
                .invalidArgument,
                "\(origin): \(path.joined(separator: ".")) must be seconds from 1 to 3600, got \(seconds)")
        }
        return seconds
    }

    /// Refuses a URL the token client could not use (ServiceURL's rules).
    private static func checkURL(_ url: String, field: String, origin: String) throws(StatusError) {
        guard ServiceURL(url) == nil else { return }
        throw StatusError(
            .invalidArgument,
            "\(origin): \(field) must be an http:// or https:// URL with a host, an optional port 1-65535 and no user name, got '\(url)'"
        )
    }
}

/// A parsed configuration, TOML or JSON, read by dotted path.
private enum ConfigDocument {
    case toml(TOMLValue)
    case json(JSON)

    var isTable: Bool {
        switch self {
        case .toml(let value): value.table != nil
        case .json(let value): if case .object = value { true } else { false }
        }
    }

    func child(_ key: String) -> ConfigDocument? {
        switch self {
        case .toml(let value): value.table?[key].map { .toml($0) }
        case .json(let value): value[key].flatMap { if case .null = $0 { nil } else { .json($0) } }
        }
    }

    var typeName: String {
        switch self {
        case .toml(let value): value.typeName
        case .json(let value):
            switch value {
            case .null: "null"
            case .bool: "boolean"
            case .number, .unsigned: "number"
            case .string: "string"
            case .array: "array"
            case .object: "table"
            }
        }
    }
}

private struct ConfigReader {
    let document: ConfigDocument
    let origin: String

    func value(_ path: [String]) throws(StatusError) -> ConfigDocument? {
        var current = document
        for (depth, key) in path.enumerated() {
            if depth > 0 && !current.isTable {
                throw wrongType(Array(path.prefix(depth)), expected: "table", found: current.typeName)
            }
            guard let next = current.child(key) else { return nil }
            current = next
        }
        return current
    }

    func isPresent(_ path: [String]) throws(StatusError) -> Bool {
        guard let found = try value(path) else { return false }
        guard found.isTable else { throw wrongType(path, expected: "table", found: found.typeName) }
        return true
    }

    func string(_ path: [String]) throws(StatusError) -> String? {
        switch try value(path) {
        case nil: return nil
        case .toml(.string(let s))?, .json(.string(let s))?: return s
        case let other?: throw wrongType(path, expected: "string", found: other.typeName)
        }
    }

    func requiredString(_ path: [String]) throws(StatusError) -> String {
        guard let found = try string(path) else {
            throw StatusError(.invalidArgument, "\(origin): \(path.joined(separator: ".")) is missing")
        }
        return found
    }

    func integer(_ path: [String]) throws(StatusError) -> Int64? {
        switch try value(path) {
        case nil: return nil
        case .toml(.integer(let i))?: return i
        case .json(.number(let n))? where n.rounded() == n && abs(n) < 1e15: return Int64(n)
        case .json(.unsigned(let n))? where n <= UInt64(Int64.max): return Int64(n)
        case let other?: throw wrongType(path, expected: "integer", found: other.typeName)
        }
    }

    func bool(_ path: [String]) throws(StatusError) -> Bool? {
        switch try value(path) {
        case nil: return nil
        case .toml(.boolean(let b))?, .json(.bool(let b))?: return b
        // Upstream's config crate accepts "true"/"false" strings too.
        case .toml(.string(let s))? where s == "true" || s == "false": return s == "true"
        case .json(.string(let s))? where s == "true" || s == "false": return s == "true"
        case let other?: throw wrongType(path, expected: "boolean", found: other.typeName)
        }
    }

    private func wrongType(_ path: [String], expected: String, found: String) -> StatusError {
        StatusError(
            .invalidArgument, "\(origin): \(path.joined(separator: ".")) must be a \(expected), found a \(found)")
    }
}
