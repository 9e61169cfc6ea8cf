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

/// One TEE: its evidence, its init-data anchor and its runtime measurement
/// registers. Parsing of report formats lives apart from the code that reads
/// devices; conformers are the device side.
public protocol TEEPlatform: Sendable {
    var tee: TEEType { get }
    var initDataAnchor: InitDataAnchor { get }
    /// The current contents of the hardware init-data field. Only called
    /// when `initDataAnchor` is `.hardwareField`.
    func readInitDataField() async throws(PlatformError) -> [UInt8]
    /// Extends the init-data PCR with `digest` (already fitted to the bank).
    /// Only called when `initDataAnchor` is `.pcr`.
    func measureInitData(_ digest: [UInt8]) async throws(PlatformError)
    /// The evidence JSON that trustee's verifier for this TEE reads.
    func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8]
    var supportsRuntimeMeasurement: Bool { get }
    /// Extends runtime measurement register `index` with `digest`.
    func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError)
}

/// Why the platform could not do what was asked.
public struct PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The caller's input does not fit the platform (e.g. report data too long).
        case invalidInput
        /// This build or this platform cannot do it.
        case unsupported
        /// A device or kernel interface failed or answered garbage.
        case deviceFailure
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
