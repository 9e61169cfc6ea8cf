/// The TEE names upstream's agent uses on the wire and in evidence.
public enum TEEType: String, Sendable, CaseIterable {
    case sample
    case tdx
    case snp
    case sev
    case sgx
    case cca
    case csv
    case se
    case tpm
    case azSnpVtpm = "az-snp-vtpm"
    case azTdxVtpm = "az-tdx-vtpm"

    /// Bytes of the hardware field that holds the initdata digest, as the
    /// initdata spec fixes them; nil where the platform has no such field.
    public var initDataFieldSize: Int? {
        switch self {
        case .tdx: 48
        case .snp: 32
        case .cca, .sgx: 64
        case .sample: 64
        case .sev, .csv, .se, .tpm, .azSnpVtpm, .azTdxVtpm: nil
        }
    }
}
