import AttestationFormats
import CKernelShims
import DataEncoding

#if canImport(Glibc)
import Glibc
import PlatformInterface
#endif

/// AMD SEV-SNP: reports through configfs-tsm (provider `sev_guest`);
/// initdata is bound to HOST_DATA (32 bytes at 0xC0 of every report).
public struct SNPPlatform: TEEPlatform {
    static let platformDevice = "/sys/devices/platform/sev-guest"
    static let device = "/dev/sev-guest"
    static let provider = "sev_guest"

    public let tee = TEEType.snp
    public let initDataAnchor = InitDataAnchor.hardwareField(size: TEEType.snp.initDataFieldSize!)
    let files: any KernelFiles

    public init(files: any KernelFiles) {
        self.files = files
    }

    /// `tsmProvider`: what configfs-tsm answers, read once by detection.
    public static func detect(files: any KernelFiles, tsmProvider: String?) -> Bool {
        files.exists(platformDevice) || files.exists(device)
            || tsmProvider == provider
    }

    /// A fresh report over zero report data, parsed for HOST_DATA.
    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            let bytes = try report(reportData: [UInt8](repeating: 0, count: 64)).outblob
            do {
                return try SNPReport(parsing: bytes).hostData
            } catch {
                throw PlatformError(
                    .deviceFailure, "the SNP report from configfs-tsm does not parse: \(error)", cause: error)
            }
        }
    }

    /// Through configfs-tsm where the kernel has it (with the certificate
    /// table), else SNP_GET_REPORT on /dev/sev-guest (no certificates).
    func report(reportData: [UInt8]) throws(PlatformError) -> ConfigfsTSM.Report {
        let inblob = InitDataDigest.fitted(reportData, to: 64)
        let tsm = ConfigfsTSM(files: files)
        if tsm.isPresent {
            return try tsm.reportWithAuxiliaryData(inblob: inblob, provider: Self.provider)
        }
        guard let root = files as? PlatformRoot, files.exists(Self.device) else {
            throw PlatformError(
                .unsupported, "SNP reports need configfs-tsm (\(ConfigfsTSM.reportDirectory)) or \(Self.device)")
        }
        let path = root.path(Self.device)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw PlatformError(.deviceFailure, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var report = [UInt8](repeating: 0, count: SNPReport.size)
        var firmwareError: UInt64 = 0
        guard aa_snp_get_report(fd, inblob, &report, &firmwareError) == 0 else {
            throw PlatformError(
                .deviceFailure,
                "SNP_GET_REPORT failed: \(String(cString: strerror(errno))) (firmware/hypervisor error 0x\(String(firmwareError, radix: 16)))"
            )
        }
        return ConfigfsTSM.Report(outblob: report, auxblob: nil)
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP binds initdata to HOST_DATA, not to a PCR")
    }

    /// `{"attestation_report": {...}, "cert_chain": [...] | null}`, as trustee's SNP verifier reads it.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            guard reportData.count <= 64 else {
                throw PlatformError(.invalidInput, "SNP report data is at most 64 bytes, got \(reportData.count)")
            }
            let report = try report(reportData: reportData)
            do {
                let chain = try report.auxblob.map(SNPEvidenceJSON.certificateChain) ?? .null
                let json = JSON.object([
                    ("attestation_report", try SNPEvidenceJSON.attestationReport(report.outblob)),
                    ("cert_chain", chain),
                ])
                return json.serializedBytes()
            } catch {
                throw PlatformError(
                    .deviceFailure, "the SNP report from configfs-tsm cannot be turned into evidence: \(error)")
            }
        }
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "SNP has no runtime measurement registers")
    }
}
