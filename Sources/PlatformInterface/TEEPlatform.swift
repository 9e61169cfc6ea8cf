import AttestationFormats
import RPCStatus

/// What a platform's hardware signs that initdata can be bound to.
public enum InitDataAnchor: Sendable, Equatable {
    /// A field set by the host at launch and signed into every report
    /// (TDX MRCONFIGID, SNP HOST_DATA, CCA personalization value).
    case hardwareField(size: Int)
    /// A TPM PCR that the agent extends with the digest once.
    case pcr(index: Int, size: Int)
    /// Nothing: binding succeeds as "unsupported" so such platforms are not blocked.
    case none
}

/// Anything that produces evidence over report data: the primary TEE, or an
/// additional one such as a confidential device.
public protocol Attester: Sendable {
    var tee: TEEType { get }
    /// The evidence JSON that trustee's verifier for this TEE reads.
    func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8]
}

/// One TEE: its evidence, its init-data anchor and its runtime measurement
/// registers. Parsing of report formats lives apart from the code that reads
/// devices; conformers are the device side.
public protocol TEEPlatform: Attester {
    var initDataAnchor: InitDataAnchor { get }
    /// The current contents of the hardware init-data field, or of the
    /// init-data PCR. Not called when `initDataAnchor` is `.none`.
    func readInitDataField() async throws(PlatformError) -> [UInt8]
    /// Extends the init-data PCR with `digest` (already fitted to the bank).
    /// Only called when `initDataAnchor` is `.pcr`.
    func measureInitData(_ digest: [UInt8]) async throws(PlatformError)
    /// Nil when the register that PCR `index` maps to can be extended here,
    /// else why not (no registers, a kernel without the interface, a PCR the
    /// OS may not extend): the caller answers NOT_SUPPORTED and warns.
    func runtimeRegisterUnavailable(forPCR index: UInt64) -> String?
    /// Extends the register that PCR `index` maps to with `digest`.
    func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError)
    /// The current value of the register that PCR `index` maps to.
    func readRuntimeMeasurement(index: UInt64) async throws(PlatformError) -> [UInt8]
    /// The hash of this platform's event log entries, nil without registers.
    var eventLogAlgorithm: EventLogAlgorithm? { get }
    /// The register number an event log entry for PCR `index` names.
    func eventLogRegister(forPCR index: UInt64) -> UInt64
    /// The register PCR `index` maps to as the firmware's own event log
    /// leaves it (all zero without one): where the agent's entries replay from.
    func firmwareRuntimeMeasurement(forPCR index: UInt64) throws(PlatformError) -> [UInt8]
    /// True when an evidence call must end before the next begins (the
    /// report data goes through a shared place, such as Azure's NV index).
    var evidenceCallsExclusive: Bool { get }
}

extension TEEPlatform {
    public var eventLogAlgorithm: EventLogAlgorithm? { nil }
    public func runtimeRegisterUnavailable(forPCR index: UInt64) -> String? {
        eventLogAlgorithm == nil ? "\(tee.rawValue) has no runtime measurement registers" : nil
    }
    public func eventLogRegister(forPCR index: UInt64) -> UInt64 { index }
    public func firmwareRuntimeMeasurement(forPCR index: UInt64) throws(PlatformError) -> [UInt8] {
        [UInt8](repeating: 0, count: eventLogAlgorithm?.size ?? 0)
    }
    public var evidenceCallsExclusive: Bool { false }
    public func readRuntimeMeasurement(index: UInt64) async throws(PlatformError) -> [UInt8] {
        throw PlatformError(.unsupported, "\(tee.rawValue) has no runtime measurement registers")
    }
}

/// Why the platform could not do what was asked.
public struct PlatformError: RPCErrorConvertible, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The caller's input does not fit the platform (e.g. report data too long).
        case invalidInput
        /// This build or this platform cannot do it.
        case unsupported
        /// A device, a kernel interface or a platform service failed or answered garbage.
        case deviceFailure
        /// A platform service (Azure's instance metadata) did not answer in time.
        case timedOut
        /// The machine lacks what an operator provisions (a TPM's attestation key).
        case notProvisioned
        /// The call was cancelled (its caller's deadline passed) before it was done.
        case cancelled
    }

    public let kind: Kind
    public let description: String
    /// What failed underneath (a file, a parser, the TSS), for logs.
    public let cause: (any Error & Sendable)?

    public init(_ kind: Kind, _ description: String, cause: (any Error & Sendable)? = nil) {
        self.kind = kind
        self.description = description
        self.cause = cause
    }

    /// Equal when the caller would read the same; the cause is not compared.
    public static func == (lhs: PlatformError, rhs: PlatformError) -> Bool {
        lhs.kind == rhs.kind && lhs.description == rhs.description
    }
}

extension PlatformError {
    public var rpcCode: StatusCode {
        switch kind {
        case .invalidInput: .invalidArgument
        case .unsupported: .unimplemented
        case .deviceFailure: .unavailable
        case .timedOut: .deadlineExceeded
        case .notProvisioned: .failedPrecondition
        case .cancelled: .cancelled
        }
    }
}
