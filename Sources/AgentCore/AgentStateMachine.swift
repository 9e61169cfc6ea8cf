import AttestationAgentAPI
import AttestationFormats
import DataEncoding
import PlatformInterface

/// The initdata state machine as a value: every rule of docs/design.md's
/// state table, no I/O. The agent reads what the platform says (the field), asks the
/// machine, and carries out what it answers (extend a PCR, apply a config).
public struct AgentStateMachine: Sendable, Equatable {
    public let anchor: InitDataAnchor
    /// `--await-initdata`: stay in Booting at launch until a bind call, on
    /// every platform; on a TPM that first bind extends the PCR.
    public let awaitsInitData: Bool
    /// `--initdata-rtmr`: where the hardware field is all zero (a TD whose
    /// MRCONFIGID the host could not set), a digest is anchored by an InitData
    /// event that opens the event log (RTMR3) instead of being rejected; until
    /// then no runtime measurement may come before it.
    public let initDataInEventLog: Bool
    public private(set) var state: AgentState = .booting
    public private(set) var binding: BindingOutcome = .pending
    /// The digest bound (as offered, before fitting), nil until one is.
    public private(set) var boundDigest: [UInt8]?
    /// The digest whose mismatch made the state Rejected, and the field (or
    /// PCR) value it was compared with, for diagnosis.
    public private(set) var rejectedDigest: [UInt8]?
    public private(set) var rejectedField: [UInt8]?
    public private(set) var configSource: ConfigSource = .none
    /// A configuration given at launch, applied as soon as initdata is verified.
    public private(set) var launchConfig: ConfigSource?
    /// A PCR extension is under way; other binds must wait for its outcome.
    public private(set) var measuring = false

    public init(anchor: InitDataAnchor, awaitsInitData: Bool = false, initDataInEventLog: Bool = false) {
        self.anchor = anchor
        self.awaitsInitData = awaitsInitData
        self.initDataInEventLog = initDataInEventLog
    }

    /// What an init-data PCR holds once `digest` was measured into it from
    /// reset: SHA-256(0^32 || digest fitted to 32 bytes), as trustee's TPM
    /// verifier computes it.
    public static func pcrValue(measuring digest: [UInt8], size: Int) -> [UInt8] {
        SHA2.sha256([UInt8](repeating: 0, count: size) + InitDataDigest.fitted(digest, to: size))
    }

    /// What a bind call asks of the agent.
    public enum BindDecision: Sendable, Equatable {
        /// Done: the state is updated; `warning` is worth a log line.
        case accepted(warning: String?)
        /// Extend the PCR with this fitted digest, then call `measured` or `measurementFailed`.
        case measure([UInt8])
        /// Open the event log with an InitData event for this digest, then
        /// call `anchoredInEventLog`, `anchorRefused` or `measurementFailed`.
        case anchorInEventLog([UInt8])
        case refused(AgentError)
    }

    // MARK: Gate

    /// Whether `method` may run now: the rule its descriptor names, decided
    /// here and nowhere else (the state table of docs/design.md). Every call
    /// of the agent asks here first; a bind or an update that passes then
    /// follows its own rules below (which digest, which field).
    public func admit(_ method: AttestationAgentMethod) -> Result<Void, AgentError> {
        switch method.descriptor.gate {
        case .always:
            return .success(())
        case .bind:
            if state == .rejected {
                return .failure(
                    AgentError(
                        .failedPrecondition,
                        "initdata was already rejected (digest did not match the hardware field); restart the guest with matching initdata"
                    ))
            }
            if measuring {
                return .failure(
                    AgentError(.failedPrecondition, "another BindInitData is being measured; retry when it is done"))
            }
            return .success(())
        case .configure:
            switch state {
            case .booting:
                return .failure(
                    AgentError(
                        .failedPrecondition,
                        "initdata is not verified yet: call BindInitData before UpdateConfiguration"))
            case .rejected:
                return .failure(
                    AgentError(.failedPrecondition, "initdata was rejected; the agent takes no configuration"))
            case .configured:
                return .failure(
                    AgentError(
                        .failedPrecondition,
                        "the configuration was already set (from \(configSource.rawValue)); it is set once"))
            case .initDataVerified:
                return .success(())
            }
        case .token:
            switch state {
            case .configured: return .success(())
            case .rejected:
                return .failure(
                    AgentError(
                        .permissionDenied,
                        "initdata did not match the hardware field; this agent will never fetch a token"))
            case .booting:
                return .failure(
                    AgentError(
                        .failedPrecondition,
                        "initdata is not verified yet: call BindInitData with the initdata digest first"))
            case .initDataVerified:
                return .failure(
                    AgentError(
                        .failedPrecondition,
                        "the agent is not configured yet: call UpdateConfiguration with the aa.toml of initdata"))
            }
        }
    }

    // MARK: Launch

    /// At launch with no initdata: a zero field (or init-data PCR) means the
    /// host bound nothing; a platform with neither has nothing to prove. A
    /// non-zero PCR is not blocking either: PCR 8 is shared with the boot
    /// chain, and with no initdata there is nothing to check (`unbound`; the
    /// answer is the warning to log). A non-zero hardware field means the
    /// host bound a digest: Booting until a bind call brings it. `field` is
    /// the field or PCR value when the anchor has one. With `awaitsInitData`
    /// nothing happens: Booting until a bind call.
    @discardableResult
    public mutating func startWithoutInitData(field: [UInt8]?) -> String? {
        guard !awaitsInitData else { return nil }
        switch anchor {
        case .hardwareField:
            if let field, field.allSatisfy({ $0 == 0 }) { verify(.absent, digest: nil) }
        case .pcr(let index, _):
            guard let field else { return nil }
            if field.allSatisfy({ $0 == 0 }) {
                verify(.absent, digest: nil)
            } else {
                verify(.unbound, digest: nil)
                return Self.unboundWarning(pcr: index, holding: field)
            }
        case .none:
            verify(.unsupported, digest: nil)
        }
        return nil
    }

    static func unboundWarning(pcr index: Int, holding field: [UInt8]) -> String {
        "no initdata was given and PCR \(index) already holds \(Hex.encode(field)), which the agent did not put there: \(bootChainCause). Nothing is bound to PCR \(index), and initdata cannot be bound to it in this boot"
    }

    /// Why an init-data PCR is not zero before the agent writes it.
    static let bootChainCause =
        "the boot chain most likely measured into it (GRUB extends PCR 8 with its command line, as the UAPI PCR registry records)"

    /// Records a configuration given at launch; it takes effect once verified.
    public mutating func configureAtLaunch(_ source: ConfigSource) {
        launchConfig = source
        if state == .initDataVerified { configure(source) }
    }

    // MARK: Binding

    /// A bind call with `digest`; `field` is the hardware field when the
    /// anchor has one (read by the caller just before).
    public mutating func bind(digest: [UInt8], field: [UInt8]?) -> BindDecision {
        if case .failure(let error) = admit(.bindInitData) { return .refused(error) }
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
            if fitted != field, initDataInEventLog, !alreadyBound, !digest.isEmpty, field.allSatisfy({ $0 == 0 }) {
                measuring = true
                return .anchorInEventLog(digest)
            }
            guard fitted == field else {
                state = .rejected
                binding = .mismatch
                rejectedDigest = digest
                rejectedField = field
                return .refused(
                    AgentError(
                        .permissionDenied,
                        "initdata digest \(Hex.encode(fitted)) does not match the hardware field \(Hex.encode(field)); initdata is rejected for good"
                    ))
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
                return .refused(
                    AgentError(
                        .failedPrecondition,
                        "a different initdata digest (\(Hex.encode(boundDigest))) was already recorded; this platform has no field to check either against"
                    ))
            }
            if state == .booting {
                verify(.recorded, digest: digest)
            } else {
                boundDigest = digest
                binding = .recorded
            }
            return .accepted(
                warning:
                    "this platform has no init-data field: digest \(Hex.encode(digest)) is recorded, not checked by hardware"
            )
        case .pcr(let index, let size):
            // The PCR is a field the agent writes once: from reset it is
            // extended; holding this digest's value it is a restart (extending
            // again would make it unverifiable until reboot); else a mismatch.
            // An empty digest says no initdata was given: as at launch, a
            // PCR the boot chain already wrote is then no reason to block.
            guard let field else {
                return .refused(AgentError(.internal, "PCR \(index) could not be read"))
            }
            let fitted = InitDataDigest.fitted(digest, to: size)
            let measuredValue = Self.pcrValue(measuring: digest, size: size)
            let zero = field.allSatisfy { $0 == 0 }
            if field == measuredValue {
                if alreadyBound {
                    boundDigest = digest
                    binding = .measured
                } else {
                    verify(.measured, digest: digest)
                }
                return .accepted(warning: nil)
            }
            if alreadyBound, digest.isEmpty, binding == .unbound || (binding == .absent && zero) {
                return .accepted(warning: nil)
            }
            if !alreadyBound, digest.isEmpty, !zero {
                verify(.unbound, digest: nil)
                return .accepted(warning: Self.unboundWarning(pcr: index, holding: field))
            }
            if !alreadyBound, zero {
                measuring = true
                return .measure(fitted)
            }
            let cause =
                switch (binding, zero) {
                case (.measured, _):
                    "PCR \(index) already holds the initdata bound before (digest \(Hex.encode(boundDigest ?? []))): a second document is not bound in this boot"
                case (_, true):
                    "The agent started without initdata while PCR \(index) was zero (absent): initdata offered later is not bound in this boot"
                case (_, false):
                    "PCR \(index) was not zero before the agent bound initdata: \(Self.bootChainCause); boot the guest without measurements into PCR \(index) before the agent (a direct kernel boot, as kata's, or GRUB without its tpm module), or, after a restart of the agent, give it the initdata it bound first"
                }
            state = .rejected
            binding = .mismatch
            rejectedDigest = digest
            rejectedField = field
            return .refused(
                AgentError(
                    .permissionDenied,
                    "initdata digest \(Hex.encode(fitted)) measured into PCR \(index) gives \(Hex.encode(measuredValue)), but PCR \(index) holds \(Hex.encode(field)); initdata is rejected for good. \(cause)"
                ))
        }
    }

    /// Whether a runtime measurement may be recorded now: not while initdata
    /// is still to open the event log (`--initdata-rtmr`, Booting), so that
    /// the InitData event comes first.
    public func admitRuntimeMeasurement() -> Result<Void, AgentError> {
        guard initDataInEventLog, state == .booting || measuring else { return .success(()) }
        return .failure(
            AgentError(
                .failedPrecondition,
                "initdata is anchored by the first event of the event log (--initdata-rtmr): runtime measurements wait until it is bound"
            ))
    }

    /// The InitData event asked for by `bind` opens the event log (now, or
    /// already before a restart).
    public mutating func anchoredInEventLog(digest: [UInt8]) {
        measuring = false
        verify(.rtmr3, digest: digest)
    }

    /// The event log cannot be opened with this digest's InitData event
    /// (another document's is there, or something came before it): Rejected.
    public mutating func anchorRefused(digest: [UInt8], _ reason: String) -> AgentError {
        measuring = false
        state = .rejected
        binding = .mismatch
        rejectedDigest = digest
        return AgentError(
            .permissionDenied, "initdata cannot be anchored in RTMR3: \(reason); initdata is rejected for good")
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
        let allowed = admit(.updateConfiguration)
        if case .success = allowed { configure(.update) }
        return allowed
    }

    private mutating func configure(_ source: ConfigSource) {
        state = .configured
        configSource = source
    }
}
