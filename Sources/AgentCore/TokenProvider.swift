/// Fetches a token of one type (`kbs`, `coco_as`) from a remote service.
public protocol TokenProvider: Sendable {
    /// `evidence` produces the primary evidence for a given report data.
    func token(config: AgentConfig, evidence: @Sendable ([UInt8]) async throws -> [UInt8]) async throws(AgentError) -> [UInt8]
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
            throw AgentError(.invalidArgument, "unknown token type '\(type)': expected one of \(Self.knownTypes.joined(separator: ", "))")
        }
        guard let provider = providers[type] else {
            throw AgentError(.unimplemented, "no provider for '\(type)' tokens is built into this agent yet")
        }
        return provider
    }
}
