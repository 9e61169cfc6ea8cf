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
        try report(reportData: [UInt8](repeating: 0, count: 64)).hostData
    }

    func report(reportData: [UInt8]) throws(PlatformError) -> SNPReport {
        let tsm = ConfigfsTSM(files: files)
        guard tsm.isPresent else {
            throw PlatformError(.unsupported, "SNP reports need configfs-tsm (\(ConfigfsTSM.reportDirectory), Linux 6.7+); the \(Self.device) ioctls are not built yet")
        }
        let bytes = try tsm.report(inblob: InitDataDigest.fitted(reportData, to: 64), provider: Self.provider)
        do {
            return try SNPReport(parsing: bytes)
        } catch {
            throw PlatformError(.deviceFailure, "the SNP report from configfs-tsm does not parse: \(error)")
        }
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP binds initdata to HOST_DATA, not to a PCR")
    }

    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        guard reportData.count <= 64 else {
            throw PlatformError(.invalidInput, "SNP report data is at most 64 bytes, got \(reportData.count)")
        }
        throw PlatformError(.unsupported,
            "SNP evidence in the JSON layout of trustee's SNP verifier (attestation_report, cert_chain) is not built yet")
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP has no runtime measurement registers")
    }
}
