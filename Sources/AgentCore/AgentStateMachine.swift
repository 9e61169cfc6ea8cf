import DataEncoding
import Platform

/// The initdata state machine as a value: every rule of DESIGN.md's table,
/// no I/O. The agent reads what the platform says (the field), asks the
/// machine, and carries out what it answers (extend a PCR, apply a config).
public struct AgentStateMachine: Sendable, Equatable {
    public let anchor: InitDataAnchor
    public private(set) var state: AgentState = .booting
    public private(set) var binding: BindingOutcome = .pending
    /// The digest bound (as offered, before fitting), nil until one is.
    public private(set) var boundDigest: [UInt8]?
    public private(set) var configSource: ConfigSource = .none
    /// A configuration given at launch, applied as soon as initdata is verified.
    public private(set) var launchConfig: ConfigSource?
    /// A PCR extension is under way; other binds must wait for its outcome.
    public private(set) var measuring = false

    public init(anchor: InitDataAnchor) {
        self.anchor = anchor
    }

    /// What a bind call asks of the agent.
    public enum BindDecision: Sendable, Equatable {
        /// Done: the state is updated; `warning` is worth a log line.
        case accepted(warning: String?)
        /// Extend the PCR with this fitted digest, then call `measured` or `measurementFailed`.
        case measure([UInt8])
        case refused(AgentError)
    }

    // MARK: Gate

    /// Whether `call` may run now. Binding and configuring have their own
    /// rules below; this answers for the rest.
    public func admit(_ call: AgentCall) -> Result<Void, AgentError> {
        switch call {
        case .getTeeType, .getAdditionalTees, .getStatus, .getEvidence, .getAdditionalEvidence,
             .extendRuntimeMeasurement, .bindInitData, .updateConfiguration:
            return .success(())
        case .getToken:
            switch state {
            case .configured: return .success(())
            case .rejected:
                return .failure(AgentError(.permissionDenied,
                    "initdata did not match the hardware field; this agent will never fetch a token"))
            case .booting:
                return .failure(AgentError(.failedPrecondition,
                    "initdata is not verified yet: call BindInitData with the initdata digest first"))
            case .initDataVerified:
                return .failure(AgentError(.failedPrecondition,
                    "the agent is not configured yet: call UpdateConfiguration with the aa.toml of initdata"))
            }
        }
    }

    // MARK: Launch

    /// At launch with no initdata: a zero field means the host bound nothing;
    /// a platform with neither field nor PCR has nothing to prove. `field` is
    /// the hardware field when the anchor has one.
    public mutating func startWithoutInitData(field: [UInt8]?) {
        switch anchor {
        case .hardwareField:
            if let field, field.allSatisfy({ $0 == 0 }) { verify(.absent, digest: nil) }
        case .none:
            verify(.unsupported, digest: nil)
        case .pcr:
            break // nothing to read: wait for a bind call
        }
    }

    /// Records a configuration given at launch; it takes effect once verified.
    public mutating func configureAtLaunch(_ source: ConfigSource) {
        launchConfig = source
        if state == .initDataVerified { configure(source) }
    }

    // MARK: Binding

    /// A bind call with `digest`; `field` is the hardware field when the
    /// anchor has one (read by the caller just before).
    public mutating func bind(digest: [UInt8], field: [UInt8]?) -> BindDecision {
        if state == .rejected {
            return .refused(AgentError(.failedPrecondition,
                "initdata was already rejected (digest did not match the hardware field); restart the guest with matching initdata"))
        }
        if measuring {
            return .refused(AgentError(.failedPrecondition, "another BindInitData is being measured; retry when it is done"))
        }
        let alreadyBound = state != .booting
        if alreadyBound, let boundDigest, boundDigest == digest {
            return .accepted(warning: nil)
        }
        switch anchor {
        case .hardwareField(let size):
            guard let field else {
                return .refused(AgentError(.internal, "the hardware init-data field could not be read"))
            }
            let fitted = InitDataDigest.fitted(digest, to: size)
            guard fitted == field else {
                state = .rejected
                binding = .mismatch
                return .refused(AgentError(.permissionDenied,
                    "initdata digest \(Hex.encode(fitted)) does not match the hardware field \(Hex.encode(field)); initdata is rejected for good"))
            }
            if !alreadyBound {
                verify(digest.isEmpty ? .absent : .matched, digest: digest)
            } else {
                boundDigest = digest
                binding = digest.isEmpty ? .absent : .matched
            }
            return .accepted(warning: nil)
        case .none:
            if let boundDigest, boundDigest != digest {
                return .refused(AgentError(.failedPrecondition,
                    "a different initdata digest (\(Hex.encode(boundDigest))) was already recorded; this platform has no field to check either against"))
            }
            if state == .booting { verify(.recorded, digest: digest) } else { boundDigest = digest; binding = .recorded }
            return .accepted(warning: "this platform has no init-data field: digest \(Hex.encode(digest)) is recorded, not checked by hardware")
        case .pcr(_, let size):
            if alreadyBound {
                return .refused(AgentError(.failedPrecondition,
                    "initdata was already measured into the PCR (digest \(Hex.encode(boundDigest ?? []))); it is bound once"))
            }
            measuring = true
            return .measure(InitDataDigest.fitted(digest, to: size))
        }
    }

    /// The PCR extension asked for by `bind` succeeded.
    public mutating func measured(digest: [UInt8]) {
        measuring = false
        verify(.measured, digest: digest)
    }

    /// The PCR extension failed: still Booting, a later bind may try again.
    public mutating func measurementFailed() {
        measuring = false
    }

    private mutating func verify(_ outcome: BindingOutcome, digest: [UInt8]?) {
        state = .initDataVerified
        binding = outcome
        boundDigest = digest
        if let launchConfig { configure(launchConfig) }
    }

    // MARK: Configuration

    /// UpdateConfiguration: allowed once, and only after initdata is verified.
    public mutating func update() -> Result<Void, AgentError> {
        let allowed = updateAllowed()
        if case .success = allowed { configure(.update) }
        return allowed
    }

    /// Whether UpdateConfiguration may run now, without running it, so the
    /// caller can check the state before it parses the configuration.
    public func updateAllowed() -> Result<Void, AgentError> {
        switch state {
        case .booting:
            return .failure(AgentError(.failedPrecondition,
                "initdata is not verified yet: call BindInitData before UpdateConfiguration"))
        case .rejected:
            return .failure(AgentError(.failedPrecondition, "initdata was rejected; the agent takes no configuration"))
        case .configured:
            return .failure(AgentError(.failedPrecondition,
                "the configuration was already set (from \(configSource.rawValue)); it is set once"))
        case .initDataVerified:
            return .success(())
        }
    }

    private mutating func configure(_ source: ConfigSource) {
        state = .configured
        configSource = source
    }
}
