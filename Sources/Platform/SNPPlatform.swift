import DataEncoding

/// AMD SEV-SNP: reports through configfs-tsm (provider `sev_guest`);
/// initdata is bound to HOST_DATA (32 bytes at 0xC0 of every report).
public struct SNPPlatform: TEEPlatform {
    static let platformDevice = "/sys/devices/platform/sev-guest"
    static let device = "/dev/sev-guest"
    static let provider = "sev_guest"

    public let tee = TEEType.snp
    public let initDataAnchor = InitDataAnchor.hardwareField(size: 32)
    public let supportsRuntimeMeasurement = false
    let files: any KernelFiles

    public init(files: any KernelFiles) {
        self.files = files
    }

    public static func detect(files: any KernelFiles) -> Bool {
        files.exists(platformDevice) || files.exists(device)
            || (ConfigfsTSM(files: files).isPresent && (try? ConfigfsTSM(files: files).provider()) == provider)
    }

    /// A fresh report over zero report data, parsed for HOST_DATA.
    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        let bytes = try report(reportData: [UInt8](repeating: 0, count: 64)).outblob
        do {
            return try SNPReport(parsing: bytes).hostData
        } catch {
            throw PlatformError(.deviceFailure, "the SNP report from configfs-tsm does not parse: \(error)")
        }
    }

    func report(reportData: [UInt8]) throws(PlatformError) -> ConfigfsTSM.Report {
        let tsm = ConfigfsTSM(files: files)
        guard tsm.isPresent else {
            throw PlatformError(.unsupported, "SNP reports need configfs-tsm (\(ConfigfsTSM.reportDirectory), Linux 6.7+); the \(Self.device) ioctls are not built yet")
        }
        return try tsm.reportWithAuxiliaryData(inblob: InitDataDigest.fitted(reportData, to: 64), provider: Self.provider)
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP binds initdata to HOST_DATA, not to a PCR")
    }

    /// `{"attestation_report": {...}, "cert_chain": [...] | null}`, as trustee's SNP verifier reads it.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        guard reportData.count <= 64 else {
            throw PlatformError(.invalidInput, "SNP report data is at most 64 bytes, got \(reportData.count)")
        }
        let report = try report(reportData: reportData)
        do {
            let chain = try report.auxblob.map(SNPEvidenceJSON.certificateChain) ?? .null
            let json = JSON.object([("attestation_report", try SNPEvidenceJSON.attestationReport(report.outblob)), ("cert_chain", chain)])
            return Array(json.serialized().utf8)
        } catch {
            throw PlatformError(.deviceFailure, "the SNP report from configfs-tsm cannot be turned into evidence: \(error)")
        }
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP has no runtime measurement registers")
    }
}
