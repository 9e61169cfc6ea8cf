/// The TEE names upstream's agent uses on the wire and in evidence (kbs-types'
/// `Tee`). AMD SEV and SEV-ES without SNP are not among them: upstream removed
/// them, and a KBS cannot parse the name `sev`.
public enum TEEType: String, Sendable, CaseIterable {
    case sample
    case tdx
    case snp
    case sgx
    case cca
    case csv
    case se
    case tpm
    case azSnpVtpm = "az-snp-vtpm"
    case azTdxVtpm = "az-tdx-vtpm"
    /// upstream's sample confidential device, an additional TEE only.
    case sampleDevice = "sampledevice"
    /// NVIDIA GPUs in confidential-computing mode, an additional TEE only.
    case nvidia

    /// Bytes of the hardware field that holds the initdata digest, as the
    /// initdata spec fixes them; nil where the platform has no such field.
    public var initDataFieldSize: Int? {
        switch self {
        case .tdx: 48
        case .snp: 32
        case .cca, .sgx: 64
        case .sample: 64
        case .csv, .se, .tpm, .azSnpVtpm, .azTdxVtpm, .sampleDevice, .nvidia: nil
        }
    }

    /// Bytes of the digest a host hands the hypervisor for this TEE (QEMU's
    /// `mrconfigid=`/`host-data=`, kata's initdata annotation): the field's
    /// size, and 256 for IBM SE, whose value kata pads although this agent
    /// reads no field there.
    public var hostDigestSize: Int? {
        self == .se ? 256 : (self == .sample ? nil : initDataFieldSize)
    }
}
