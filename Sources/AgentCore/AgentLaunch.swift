import AttestationFormats
import Configuration
import DataEncoding
import LocalFiles
import PlatformInterface

/// What the agent is given at launch: flags, environment, kernel command line.
public struct LaunchInputs: Sendable {
    public var configFile: String?
    public var initDataTOMLPath: String?
    public var initDataDigestBase64: String?
    public var environment: [String: String]
    public var root: PlatformRoot

    public init(
        configFile: String? = nil, initDataTOMLPath: String? = nil, initDataDigestBase64: String? = nil,
        environment: [String: String] = [:], root: PlatformRoot = PlatformRoot()
    ) {
        self.configFile = configFile
        self.initDataTOMLPath = initDataTOMLPath
        self.initDataDigestBase64 = initDataDigestBase64
        self.environment = environment
        self.root = root
    }
}

/// The launch plan, read before anything listens: which initdata to bind and
/// which configuration to apply. Any error here stops the process with its reason.
public struct LaunchPlan: Sendable {
    public enum Binding: Sendable, Equatable {
        case document(InitDataDocument)
        case digest([UInt8])
        case none
    }

    public let binding: Binding
    public let config: AgentConfig?
    public let configSource: ConfigSource

    /// Reads the config file, the initdata document and the KBC parameters.
    /// Precedence: `--config-file`, then initdata's `aa.toml`, then
    /// `AA_KBC_PARAMS`; `--initdata_toml` wins over `--initdata_digest`, as upstream.
    public init(_ inputs: LaunchInputs) throws(AgentError) {
        if let path = inputs.initDataTOMLPath {
            let text = try Self.readText(path, what: "initdata document")
            do { binding = .document(try InitDataDocument(text: text)) } catch { throw AgentError(error) }
        } else if let text = inputs.initDataDigestBase64 {
            guard let digest = Base64.decode(text) else {
                throw AgentError(.invalidArgument, "--initdata_digest '\(text)' is not standard base64")
            }
            binding = .digest(digest)
        } else {
            binding = .none
        }

        if let path = inputs.configFile {
            config = try AgentConfig(
                text: try Self.readText(path, what: "config file"), format: AgentConfig.Format(path: path),
                origin: "config file \(path)")
            configSource = .configFile
        } else if case .document(let document) = binding, let text = document.agentConfig {
            config = try AgentConfig(text: text, format: .toml, origin: "the aa.toml entry of the initdata document")
            configSource = .initData
        } else if let params = Self.kbcParams(inputs), let fromParams = params.config {
            config = fromParams
            configSource = .kbcParams
        } else {
            config = nil
            configSource = .none
        }
    }

    /// Binds (or checks for the absence of) initdata and applies the
    /// configuration. A mismatch throws PERMISSION_DENIED: the caller must exit.
    public func apply(to agent: AttestationAgent) async throws(AgentError) {
        switch binding {
        case .document(let document):
            try Self.checkVerifiable(
                digestSize: document.algorithm.digestSize, named: document.algorithm.rawValue,
                on: agent.platform)
            await agent.holdInitData(document)
            try await agent.bindInitData(digest: document.digest)
        case .digest(let digest):
            if !digest.isEmpty {
                try Self.checkVerifiable(
                    digestSize: digest.count, named: "a \(digest.count)-byte digest", on: agent.platform)
            }
            try await agent.bindInitData(digest: digest)
        case .none:
            await agent.startWithoutInitData()
        }
        if let config { await agent.configureAtLaunch(config, source: configSource) }
    }

    /// On a (v)TPM the digest is measured into a PCR, and trustee's TPM
    /// verifier recomputes that PCR only from a 32-byte (sha256) digest:
    /// anything else could never verify, so it is refused before listening.
    static func checkVerifiable(digestSize: Int, named name: String, on platform: any TEEPlatform) throws(AgentError) {
        guard case .pcr(let index, let size) = platform.initDataAnchor, digestSize != size else { return }
        throw AgentError(
            .invalidArgument,
            "initdata uses \(name), but on \(platform.tee.rawValue) it is measured into PCR \(index) and trustee's TPM verifier checks only a sha256 digest: set algorithm = \"sha256\" in the initdata document"
        )
    }

    private static func kbcParams(_ inputs: LaunchInputs) -> KbcParams? {
        let cmdline = try? LocalFile.readText(inputs.root.path("/proc/cmdline"))
        return KbcParams.find(environment: inputs.environment, cmdline: cmdline).flatMap(KbcParams.init)
    }

    private static func readText(_ path: String, what: String) throws(AgentError) -> String {
        do {
            return try LocalFile.readText(path)
        } catch {
            throw AgentError(.invalidArgument, "cannot read the \(what) \(error)", cause: error)
        }
    }
}
