import AttestationFormats
import Configuration
import PlatformInterface

/// What a token provider gets from the agent for one GetToken call.
public struct TokenRequest: Sendable {
    public let config: AgentConfig
    public let tee: TEEType
    /// The initdata document the agent holds, sent to the KBS as `init-data`.
    public let initData: String?
    /// How long the caller will wait, if it said so (`timeout_nano`).
    public let timeLimit: Duration?
    /// The primary TEE's evidence JSON over the given report data.
    public let evidence: @Sendable ([UInt8]) async throws(AgentError) -> [UInt8]
    /// The additional TEEs' evidence (empty with none) over the given report data.
    public let additionalEvidence: @Sendable ([UInt8]) async throws(AgentError) -> [UInt8]

    public init(
        config: AgentConfig, tee: TEEType, initData: String?, timeLimit: Duration?,
        evidence: @escaping @Sendable ([UInt8]) async throws(AgentError) -> [UInt8],
        additionalEvidence: @escaping @Sendable ([UInt8]) async throws(AgentError) -> [UInt8]
    ) {
        self.config = config
        self.tee = tee
        self.initData = initData
        self.timeLimit = timeLimit
        self.evidence = evidence
        self.additionalEvidence = additionalEvidence
    }
}

/// Fetches a token of one type (`kbs`, `coco_as`) from a remote service.
public protocol TokenProvider: Sendable {
    func token(_ request: TokenRequest) async throws(AgentError) -> [UInt8]
}

/// The token types upstream knows, and the providers built into this agent.
public struct TokenProviders: Sendable {
    public static let knownTypes = ["kbs", "coco_as"]

    private let providers: [String: any TokenProvider]

    public init(_ providers: [String: any TokenProvider] = [:]) {
        self.providers = providers
    }

    public func provider(for type: String) throws(AgentError) -> any TokenProvider {
        guard Self.knownTypes.contains(type) else {
            throw AgentError(
                .invalidArgument,
                "unknown token type '\(type)': expected one of \(Self.knownTypes.joined(separator: ", "))")
        }
        guard let provider = providers[type] else {
            throw AgentError(.unimplemented, "no provider for '\(type)' tokens is built into this agent yet")
        }
        return provider
    }
}
