import DataEncoding

/// The hash an event log uses: its registers' own (SHA-256 for TPM PCRs,
/// SHA-384 for TDX RTMRs), with its TCG algorithm ID.
public enum EventLogAlgorithm: Sendable, Equatable {
    case sha256, sha384

    public var size: Int { self == .sha256 ? 32 : 48 }

    /// TPM_ALG_ID, as event log entries and the spec ID event name it.
    public var tcgID: UInt16 { self == .sha256 ? 0x000B : 0x000C }

    public func digest(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: SHA2.sha256(bytes)
        case .sha384: SHA2.sha384(bytes)
        }
    }
}
