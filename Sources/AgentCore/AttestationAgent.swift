import AttestationAgentAPI
import AttestationFormats
import Configuration
import DataEncoding
import LocalFiles
import Logging
import NIOConcurrencyHelpers
import PlatformInterface

/// The agent's core: owns the state machine, the platform, the configuration
/// and the initdata document. Each method under "Calls" is one call of the
/// service and asks the state machine's gate (`admit`) first; the machine
/// decides, this actor does the I/O it asks for.
///
/// The actor changes the machine; every change is published at once, and the
/// gate and the calls that only read state (GetTeeType, GetAdditionalTees,
/// GetStatus, and the evidence calls whose gate reads none) go by what was
/// published, without waiting for the actor.
public actor AttestationAgent {
    public nonisolated let platform: any TEEPlatform
    public nonisolated let additionalAttesters: [any Attester]
    private var machine: AgentStateMachine {
        didSet { published.withLockedValue { $0.machine = machine } }
    }
    private var config: AgentConfig? {
        didSet { published.withLockedValue { $0.kbs = config?.kbs } }
    }
    /// The machine and the KBS as the actor last left them.
    private struct Published: Sendable {
        var machine: AgentStateMachine
        var kbs: AgentConfig.KBS?
    }
    private nonisolated let published: NIOLockedValueBox<Published>
    private var initData: InitDataDocument?
    private let tokenProviders: TokenProviders
    private let logger: Logger
    /// Where the event log lives (upstream's /run/attestation-agent/eventlog, or AAEL_PATH).
    private let eventLogLocation: EventLogLocation
    /// Opened, and recovered from a crash, on the first runtime measurement.
    private var eventLog: EventLog?
    /// Keeps evidence and runtime measurements apart (see MeasurementGate).
    private let measurementGate = MeasurementGate()
    /// Why runtime measurements were refused, each logged once.
    private var warnedRuntimeMeasurementCauses: Set<String> = []

    /// `awaitsInitData` (`--await-initdata`): Booting at launch until a bind
    /// call. `initDataInEventLog` (`--initdata-rtmr`): a digest the all-zero
    /// hardware field cannot hold is anchored by the event log's InitData event.
    public init(
        platform: any TEEPlatform, additionalAttesters: [any Attester] = [],
        tokenProviders: TokenProviders = TokenProviders(), awaitsInitData: Bool = false,
        initDataInEventLog: Bool = false,
        eventLogLocation: EventLogLocation = EventLogLocation(file: EventLogLocation.defaultFile), logger: Logger
    ) {
        self.platform = platform
        self.additionalAttesters = additionalAttesters
        let machine = AgentStateMachine(
            anchor: platform.initDataAnchor, awaitsInitData: awaitsInitData, initDataInEventLog: initDataInEventLog)
        self.machine = machine
        self.published = NIOLockedValueBox(Published(machine: machine, kbs: nil))
        self.tokenProviders = tokenProviders
        self.eventLogLocation = eventLogLocation
        self.logger = logger
    }

    /// What GetStatus reports.
    public struct Status: Sendable, Equatable {
        public let state: AgentState
        public let binding: BindingOutcome
        public let tee: TEEType
        public let configSource: ConfigSource
        public let boundDigest: [UInt8]?
        /// In Rejected, the digest that did not match and the field (or PCR) value it was compared with.
        public var rejectedDigest: [UInt8]? = nil
        public var rejectedField: [UInt8]? = nil
        /// The KBS of the configuration the agent holds (GetToken uses it once configured).
        public var kbs: AgentConfig.KBS? = nil
    }

    /// Where the agent is now, for the launcher's log and for tests; the
    /// GetStatus call is `statusReport()`.
    public nonisolated var status: Status {
        let (machine, kbs) = published.withLockedValue { ($0.machine, $0.kbs) }
        return Status(
            state: machine.state, binding: machine.binding, tee: platform.tee,
            configSource: machine.configSource, boundDigest: machine.boundDigest,
            rejectedDigest: machine.rejectedDigest, rejectedField: machine.rejectedField,
            kbs: kbs)
    }

    // MARK: Launch

    /// Launch with no initdata: read the field (or init-data PCR) if there is
    /// one and let the machine decide whether there is anything left to
    /// prove. A field that cannot be read proves nothing: the agent stays in
    /// Booting, keeps serving local calls, and a bind call reads it again.
    public func startWithoutInitData() async {
        if platform.initDataAnchor != .none && !machine.awaitsInitData {
            do {
                if let warning = machine.startWithoutInitData(field: try await readField()) {
                    logger.warning("\(warning)")
                }
            } catch {
                logger.error(
                    "cannot read the init-data field at launch; staying in Booting",
                    metadata: ["reason": "\(error.message)"])
            }
        } else {
            machine.startWithoutInitData(field: nil)
        }
        logger.info(
            "started without initdata",
            metadata: ["state": "\(machine.state.rawValue)", "binding": "\(machine.binding.rawValue)"])
    }

    /// Keeps the initdata document: the KBS handshake sends its body along
    /// (`init-data`), which comes with the token providers.
    public func holdInitData(_ document: InitDataDocument) {
        initData = document
    }

    /// A configuration given at launch: applied now if initdata is verified,
    /// else as soon as it is.
    public func configureAtLaunch(_ config: AgentConfig, source: ConfigSource) {
        self.config = config
        machine.configureAtLaunch(source)
        logger.info(
            "configuration given at launch",
            metadata: ["source": "\(source.rawValue)", "state": "\(machine.state.rawValue)"])
    }

    // MARK: Calls

    public nonisolated func teeType() throws(AgentError) -> TEEType {
        try admit(.getTeeType)
        return platform.tee
    }

    public nonisolated func additionalTees() throws(AgentError) -> [TEEType] {
        try admit(.getAdditionalTees)
        return additionalAttesters.map(\.tee)
    }

    public nonisolated func statusReport() throws(AgentError) -> Status {
        try admit(.getStatus)
        return status
    }

    public func bindInitData(digest: [UInt8]) async throws(AgentError) {
        try admit(.bindInitData)
        var field: [UInt8]?
        if platform.initDataAnchor != .none {
            field = try await readField()
        }
        let wasBooting = machine.state == .booting
        switch machine.bind(digest: digest, field: field) {
        case .accepted(let warning):
            if let warning { logger.warning("\(warning)") }
            var metadata: Logger.Metadata = [
                "binding": "\(machine.binding.rawValue)", "digest": "\(Hex.encode(digest))",
            ]
            if case .pcr(let index, _) = platform.initDataAnchor, wasBooting, machine.binding == .measured {
                metadata["pcr"] = "PCR \(index) already holds this digest (the agent restarted): not extended again"
            }
            logger.info("initdata bound", metadata: metadata)
        case .measure(let fitted):
            do {
                try await platform.measureInitData(fitted)
            } catch {
                machine.measurementFailed()
                throw AgentError(.unavailable, "cannot extend the init-data PCR: \(error)", cause: error)
            }
            machine.measured(digest: digest)
            logger.info("initdata measured into the PCR", metadata: ["digest": "\(Hex.encode(fitted))"])
        case .anchorInEventLog(let digest):
            try await anchorInEventLog(digest)
        case .refused(let error):
            if machine.binding == .mismatch && error.code == .permissionDenied {
                logger.error("initdata rejected: \(error.message)")
            }
            throw error
        }
        if machine.initDataInEventLog, machine.binding == .matched || machine.binding == .absent {
            logger.warning("--initdata-rtmr is ignored: the hardware field binds initdata here")
        }
    }

    /// `--initdata-rtmr` with an all-zero MRCONFIGID: opens the event log with
    /// the document's InitData event on RTMR3, once per boot (a restart finds
    /// it there and extends nothing), with runtime measurements held off
    /// meanwhile (the measurement gate, taken exclusively).
    private func anchorInEventLog(_ digest: [UInt8]) async throws(AgentError) {
        let pcr = InitDataLogAnchor.pcr
        guard let algorithm = platform.eventLogAlgorithm,
            platform.eventLogRegister(forPCR: pcr) == UInt64(InitDataEvent.register),
            platform.runtimeRegisterUnavailable(forPCR: pcr) == nil
        else {
            machine.measurementFailed()
            let reason =
                platform.runtimeRegisterUnavailable(forPCR: pcr) ?? "\(platform.tee.rawValue) has no RTMR3"
            throw AgentError(.unavailable, "initdata cannot be anchored in RTMR3 here: \(reason)")
        }
        let document = initData.flatMap { $0.digest == digest ? $0.algorithm.rawValue : nil }
        let event: RuntimeEvent
        do {
            event = try RuntimeEvent(
                domain: InitDataEvent.domain, operation: InitDataEvent.operation,
                content: InitDataEvent.content(digest: digest, algorithm: document))
        } catch {
            machine.measurementFailed()
            throw error
        }
        let platform = platform
        let decision: Result<InitDataLogAnchor.Decision, AgentError>
        do throws(AgentError) {
            decision = .success(
                try await measurementGate.run(exclusive: true) { () throws(AgentError) in
                    let log = try await self.openEventLog(algorithm: algorithm, initPCR: pcr)
                    let entries: [AAEventLog.Entry]
                    do {
                        entries = try AAEventLog.entries(LocalFile.exists(log.path) ? LocalFile.read(log.path) : [])
                    } catch {
                        throw AgentError(
                            .unavailable, "the event log \(log.path) does not read: \(error)", cause: error)
                    }
                    let live: [UInt8]
                    let firmware: [UInt8]
                    do throws(PlatformError) {
                        live = try await platform.readRuntimeMeasurement(index: pcr)
                        firmware = try platform.firmwareRuntimeMeasurement(forPCR: pcr)
                    } catch {
                        throw AgentError(error, context: "RTMR3")
                    }
                    let decision = InitDataLogAnchor.decide(
                        entries: entries, text: event.text, live: live,
                        replayed: InitDataLogAnchor.replay(
                            from: firmware, entries: entries, register: InitDataEvent.register, algorithm: algorithm))
                    if decision == .record { try await log.record(event, pcr: pcr, platform: platform) }
                    return decision
                })
        } catch {
            decision = .failure(error)
        }
        switch decision {
        case .failure(let error):
            machine.measurementFailed()
            throw error
        case .success(.refuse(let reason)):
            let error = machine.anchorRefused(digest: digest, reason)
            logger.error("initdata rejected: \(error.message)")
            throw error
        case .success(let outcome):
            machine.anchoredInEventLog(digest: digest)
            logger.info(
                outcome == .alreadyAnchored
                    ? "initdata already anchored in RTMR3 by the event log's InitData event (the agent restarted): not extended again"
                    : "initdata anchored in RTMR3 by the event log's first event",
                metadata: ["event": "\(event.text)"])
        }
    }

    public func updateConfiguration(_ text: String) throws(AgentError) {
        try admit(.updateConfiguration)
        let parsed = try AgentConfig(
            text: text, format: .toml, origin: "the configuration given to UpdateConfiguration")
        _ = machine.update()
        config = parsed
        logger.info("configured by UpdateConfiguration", metadata: ["kbs": "\(parsed.kbs?.url ?? "none")"])
    }

    public nonisolated func evidence(runtimeData: [UInt8]) async throws(AgentError) -> [UInt8] {
        try admit(.getEvidence)
        let platform = platform
        return try await measurementGate.run(exclusive: platform.evidenceCallsExclusive) { () throws(AgentError) in
            do throws(PlatformError) {
                return try await platform.evidence(reportData: runtimeData)
            } catch {
                throw AgentError(error)
            }
        }
    }

    /// The additional attesters' evidence as one JSON object keyed by TEE
    /// name (what trustee's KBS reads as `additional_evidence`); empty bytes
    /// with none, as upstream.
    public nonisolated func additionalEvidence(runtimeData: [UInt8]) async throws(AgentError) -> [UInt8] {
        try admit(.getAdditionalEvidence)
        return try await collectAdditionalEvidence(runtimeData: runtimeData, leavingOutFailures: false)
    }

    /// `leavingOutFailures`: a device that fails is left out, with a warning,
    /// instead of failing the whole: GetToken goes on with the CPU's evidence
    /// (and the other devices'), and the KBS's policy decides what it needs.
    private nonisolated func collectAdditionalEvidence(
        runtimeData: [UInt8], leavingOutFailures: Bool
    ) async throws(AgentError) -> [UInt8] {
        guard !additionalAttesters.isEmpty else { return [] }
        var members: [(String, JSON)] = []
        for attester in additionalAttesters {
            let bytes: [UInt8]
            do { bytes = try await attester.evidence(reportData: runtimeData) } catch {
                guard leavingOutFailures else { throw AgentError(error) }
                logger.warning(
                    "additional evidence left out of the token request",
                    metadata: ["tee": "\(attester.tee.rawValue)", "reason": "\(error)"])
                continue
            }
            do {
                members.append((attester.tee.rawValue, try JSON(parsing: String(decoding: bytes, as: UTF8.self))))
            } catch {
                throw AgentError(.internal, "the \(attester.tee.rawValue) evidence is not JSON: \(error)", cause: error)
            }
        }
        return members.isEmpty ? [] : JSON.object(members).serializedBytes()
    }

    public enum RuntimeMeasurementOutcome: Sendable, Equatable { case ok, notSupported, notEnabled }

    /// Upstream's order: no event log → NOT_ENABLED; a register that cannot
    /// be extended here → NOT_SUPPORTED, never an error, because the
    /// confidential-data-hub fails an image pull on any error; else the event
    /// is logged and its digest extends the register of `registerIndex`
    /// (default: the configured init_pcr).
    public func extendRuntimeMeasurement(
        domain: String, operation: String, content: String,
        registerIndex: UInt64?
    ) async throws(AgentError) -> RuntimeMeasurementOutcome {
        try admit(.extendRuntimeMeasurement)
        if case .failure(let error) = machine.admitRuntimeMeasurement() { throw error }
        let settings = (config ?? AgentConfig()).eventLog
        guard settings.enabled else { return .notEnabled }
        let event = try RuntimeEvent(domain: domain, operation: operation, content: content)
        let pcr = registerIndex ?? settings.initPCR
        guard pcr < 24 else { throw AgentError(.invalidArgument, "RegisterIndex \(pcr) is not a PCR index 0...23") }
        if let reason = platform.runtimeRegisterUnavailable(forPCR: pcr) { return notSupported(reason) }
        guard let algorithm = platform.eventLogAlgorithm else {
            return notSupported("\(platform.tee.rawValue) has no event log algorithm")
        }
        let platform = platform
        try await measurementGate.run(exclusive: true) { () throws(AgentError) in
            let log = try await self.openEventLog(algorithm: algorithm, initPCR: settings.initPCR)
            try await log.record(event, pcr: pcr, platform: platform)
        }
        logger.info("runtime event recorded", metadata: ["event": "\(event.text)", "pcr": "\(pcr)"])
        return .ok
    }

    /// NOT_SUPPORTED, with one warning per cause so an image pull each
    /// minute does not flood the log.
    private func notSupported(_ reason: String) -> RuntimeMeasurementOutcome {
        if warnedRuntimeMeasurementCauses.insert(reason).inserted {
            logger.warning(
                "runtime measurements are not supported here; ExtendRuntimeMeasurement answers NOT_SUPPORTED",
                metadata: ["reason": "\(reason)"])
        }
        return .notSupported
    }

    private func openEventLog(algorithm: EventLogAlgorithm, initPCR: UInt64) async throws(AgentError) -> EventLog {
        if let eventLog { return eventLog }
        do { try LocalFile.makeDirectories(eventLogLocation.directory) } catch {
            throw AgentError(.unavailable, "cannot create the event log directory: \(error)", cause: error)
        }
        let log = EventLog(location: eventLogLocation, algorithm: algorithm)
        try await log.recover(platform: platform, pcr: initPCR)
        eventLog = log
        return log
    }

    /// GetToken: only once configured, and only through a provider built in;
    /// `timeLimit` is what is left of the caller's deadline.
    public func token(type: String, timeLimit: Duration? = nil) async throws(AgentError) -> [UInt8] {
        try admit(.getToken)
        let provider = try tokenProviders.provider(for: type)
        guard let config else { throw AgentError(.internal, "configured state without a configuration") }
        let request = TokenRequest(
            config: config, tee: platform.tee, initData: initData?.text, timeLimit: timeLimit,
            evidence: { [self] reportData throws(AgentError) in try await self.evidence(runtimeData: reportData) },
            additionalEvidence: { [self] reportData throws(AgentError) in
                try await self.collectAdditionalEvidence(runtimeData: reportData, leavingOutFailures: true)
            })
        return try await provider.token(request)
    }

    // MARK: Helpers

    /// The one gate: the state table of docs/design.md, as the state machine
    /// last published holds it (inside the actor, the machine itself).
    private nonisolated func admit(_ method: AttestationAgentMethod) throws(AgentError) {
        if case .failure(let error) = admission(method) { throw error }
    }

    /// What the gate says of `method` now.
    nonisolated func admission(_ method: AttestationAgentMethod) -> Result<Void, AgentError> {
        published.withLockedValue { $0.machine.admit(method) }
    }

    /// What the actor's own machine says of `method`: the published one must
    /// agree whenever the actor is between calls (the gate property test checks).
    func isolatedAdmission(_ method: AttestationAgentMethod) -> Result<Void, AgentError> {
        machine.admit(method)
    }

    private func readField() async throws(AgentError) -> [UInt8] {
        do {
            return try await platform.readInitDataField()
        } catch {
            if case .pcr(let index, _) = platform.initDataAnchor {
                throw AgentError(.unavailable, "cannot read the init-data PCR \(index): \(error)", cause: error)
            }
            throw AgentError(
                .unavailable, "cannot read the \(platform.tee.rawValue) init-data field: \(error)", cause: error)
        }
    }
}
