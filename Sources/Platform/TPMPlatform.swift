import AttestationFormats
import CTPM
import DataEncoding
import PlatformInterface

/// A TPM 2.0 (or a vTPM) through tpm2-tss: initdata is measured into PCR 8
/// once, evidence is a quote over the SHA-256 PCRs with the report data as
/// qualifying data, and runtime measurements extend the requested PCR.
public struct TPMPlatform: TEEPlatform {
    public static let initDataPCR = 8
    /// Where upstream expects a provisioned attestation key (`AA_TPM_AK_HANDLE` overrides).
    public static let defaultAKHandle: UInt32 = 0x8101_0002
    /// Where Azure's paravisor provisions the vTPM's attestation key.
    public static let azureAKHandle: UInt32 = 0x8100_0003
    /// Upstream fits the report data to 32 bytes for a TPM quote.
    static let reportDataSize = 32

    /// `tpm`, or `az-snp-vtpm` / `az-tdx-vtpm` for an Azure vTPM holding an HCL report.
    public let tee: TEEType
    public let initDataAnchor = InitDataAnchor.pcr(index: TPMPlatform.initDataPCR, size: 32)
    /// A tpm2-tss TCTI configuration.
    public let tcti: String
    public let akHandle: UInt32
    /// Where an Azure VM's VCEK and TD quotes come from.
    /// Azure's instance metadata service, for the Azure TEEs (detection gives it).
    public let azureMetadata: AzureMetadataService?
    /// The kernel's files (a CCEL table) and the agent's AAEL file, which
    /// az-snp-vtpm evidence carries as `cc_eventlog` (upstream's attester does).
    let files: any KernelFiles
    let eventLogFile: String?

    public init(
        tcti: String, akHandle: UInt32 = TPMPlatform.defaultAKHandle, tee: TEEType = .tpm,
        azureMetadata: AzureMetadataService? = nil, files: any KernelFiles = PlatformRoot(),
        eventLogFile: String? = nil
    ) {
        self.tcti = tcti
        self.akHandle = akHandle
        self.tee = tee
        self.azureMetadata = azureMetadata
        self.files = files
        self.eventLogFile = eventLogFile
    }

    /// On Azure the report data goes through one NV index: one evidence call at a time.
    public var evidenceCallsExclusive: Bool { tee != .tpm }

    /// Where Azure's paravisor (HCL) keeps its report in the vTPM.
    static let hclReportIndex: UInt32 = 0x0140_0001

    /// `az-snp-vtpm` or `az-tdx-vtpm` when the vTPM holds an HCL report
    /// whose hardware report is SNP (type 2) or TDX (type 4); nil otherwise.
    public func azureConfidentialVM() throws(PlatformError) -> TEEType? {
        guard let report = try nvRead(Self.hclReportIndex) else { return nil }
        do { return try HCLReport.teeType(report) } catch {
            throw PlatformError(.deviceFailure, "\(error)", cause: error)
        }
    }

    /// Writes an NV index with owner authorization, defining it to fit.
    func nvWrite(_ index: UInt32, _ data: [UInt8]) throws(PlatformError) {
        try withTPM { tpm, error throws(PlatformError) in
            guard aa_tpm_nv_write(tpm, index, data, data.count, error, 256) == 0 else { throw Self.failure(error) }
        }
    }

    /// The contents of an NV index, nil when it is not defined.
    func nvRead(_ index: UInt32) throws(PlatformError) -> [UInt8]? {
        try withTPM { tpm, error throws(PlatformError) in
            var data = [UInt8](repeating: 0, count: 8192)
            var size = data.count
            switch aa_tpm_nv_read(tpm, index, &data, &size, error, 256) {
            case 0: return Array(data.prefix(size))
            case 1: return nil
            default: throw Self.failure(error)
            }
        }
    }

    /// Where the TPM is: `AA_TPM_TCTI` (any tpm2-tss TCTI), else the device
    /// `AA_TPM_DEVICE` names if it exists (upstream's variable), else the
    /// kernel's resource manager `/dev/tpmrm0`, else `/dev/tpm0`-`2` as upstream.
    public static func tcti(root: PlatformRoot, environment: [String: String]) -> String? {
        if let tcti = environment["AA_TPM_TCTI"], !tcti.isEmpty { return tcti }
        if let device = environment["AA_TPM_DEVICE"], !device.isEmpty {
            return root.exists(device) ? "device:" + root.path(device) : nil
        }
        let device = ["/dev/tpmrm0", "/dev/tpm0", "/dev/tpm1", "/dev/tpm2"].first { root.exists($0) }
        return device.map { "device:" + root.path($0) }
    }

    /// `AA_TPM_AK_HANDLE`, nil when not set (each TEE has its own default).
    public static func akHandle(environment: [String: String]) throws(PlatformError) -> UInt32? {
        guard let text = environment["AA_TPM_AK_HANDLE"] else { return nil }
        let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
        guard let value = UInt32(digits, radix: 16) else {
            throw PlatformError(.invalidInput, "AA_TPM_AK_HANDLE '\(text)' is not a hex TPM handle such as 0x81010002")
        }
        return value
    }

    /// PCR 8: the agent treats it as a field that it writes once.
    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            try pcrs()[Self.initDataPCR]
        }
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        try await DeviceThreads.run { () throws(PlatformError) in
            try extend(index: UInt32(Self.initDataPCR), digest: digest)
        }
    }

    /// PCRs 17-22 belong to dynamic launch (locality 4): the OS cannot extend them.
    public func runtimeRegisterUnavailable(forPCR index: UInt64) -> String? {
        (17...22).contains(index)
            ? "TPM PCR \(index) belongs to dynamic launch and cannot be extended from the OS; set eventlog_config.init_pcr to another PCR (e.g. 23)"
            : nil
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        try await DeviceThreads.run { () throws(PlatformError) in
            guard index < 24 else { throw PlatformError(.invalidInput, "a TPM has PCRs 0 to 23, not \(index)") }
            if let reason = runtimeRegisterUnavailable(forPCR: index) { throw PlatformError(.unsupported, reason) }
            guard digest.count == 32 else {
                throw PlatformError(.invalidInput, "a SHA-256 PCR takes a 32-byte digest, got \(digest.count)")
            }
            try extend(index: UInt32(index), digest: digest)
        }
    }

    public let eventLogAlgorithm: EventLogAlgorithm? = .sha256

    public func readRuntimeMeasurement(index: UInt64) async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            guard index < 24 else { throw PlatformError(.invalidInput, "a TPM has PCRs 0 to 23, not \(index)") }
            return try pcrs()[Int(index)]
        }
    }

    /// `{"tpm_quote": {"signature", "message", "pcrs"}, "ak_public"}`, as upstream's TPM attester
    /// writes it; on Azure the evidence of `AzureVTPMEvidence.swift`.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        guard tee == .tpm else { return try await azureEvidence(reportData: reportData) }
        return try await DeviceThreads.run { () throws(PlatformError) in
            guard reportData.count <= 64 else {
                throw PlatformError(.invalidInput, "TPM report data is at most 64 bytes, got \(reportData.count)")
            }
            let quote = try quote(qualifying: InitDataDigest.fitted(reportData, to: Self.reportDataSize))
            let quoteJSON = JSON.object([
                ("signature", .string(Base64.encode(quote.signature))),
                ("message", .string(Base64.encode(quote.message))),
                ("pcrs", .array(quote.pcrs.map { .string(Hex.encode($0)) })),
            ])
            let akPublic = RSAPublicKeyDER.subjectPublicKeyInfo(modulus: quote.modulus, exponent: quote.exponent)
            return JSON.object([("tpm_quote", quoteJSON), ("ak_public", .string(Base64.encode(akPublic)))])
                .serializedBytes()
        }
    }

    /// A quote of the SHA-256 PCRs and the PCRs read right after it.
    struct Quote {
        /// The marshalled TPMS_ATTEST.
        let message: [UInt8]
        /// The marshalled TPMT_SIGNATURE.
        let signature: [UInt8]
        let modulus: [UInt8]
        let exponent: UInt32
        let pcrs: [[UInt8]]
    }

    /// Quotes with the attestation key provisioned at `akHandle`, and no
    /// other: a key made for the occasion would prove nothing to a verifier
    /// that pins the machine's key.
    func quote(qualifying: [UInt8]) throws(PlatformError) -> Quote {
        try withTPM { tpm, error throws(PlatformError) in
            var message = [UInt8](repeating: 0, count: 4096)
            var messageSize = 4096
            var signature = [UInt8](repeating: 0, count: 4096)
            var signatureSize = 4096
            var modulus = [UInt8](repeating: 0, count: 1024)
            var modulusSize = 1024
            var exponent: UInt32 = 0
            let status = aa_tpm_quote(
                tpm, akHandle, qualifying, qualifying.count, &message, &messageSize, &signature, &signatureSize,
                &modulus, &modulusSize, &exponent, error, 256)
            if status == 2 { throw PlatformError(.notProvisioned, "TPM: \(String(cString: error)): \(provisioning)") }
            guard status == 0 else { throw Self.failure(error) }
            return Quote(
                message: Array(message.prefix(messageSize)), signature: Array(signature.prefix(signatureSize)),
                modulus: Array(modulus.prefix(modulusSize)), exponent: exponent, pcrs: try readPCRs(tpm, error))
        }
    }

    /// How the attestation key gets to `akHandle`, for the error that finds none there.
    var provisioning: String {
        let handle = "0x" + String(akHandle, radix: 16)
        guard tee == .tpm else {
            return
                "Azure's paravisor provisions it at \(handle); without it this vTPM is not an Azure confidential VM's, or AA_TPM_AK_HANDLE names the wrong handle"
        }
        return
            "provision the machine's attestation key there before the agent quotes (tpm2_createek -c ek.ctx; tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa; tpm2_evictcontrol -C o -c ak.ctx \(handle)), or set AA_TPM_AK_HANDLE to the handle of the key it has"
    }

    /// The 24 SHA-256 PCRs.
    public func pcrs() throws(PlatformError) -> [[UInt8]] {
        try withTPM { tpm, error throws(PlatformError) in try readPCRs(tpm, error) }
    }

    private func readPCRs(_ tpm: OpaquePointer, _ error: UnsafeMutablePointer<CChar>) throws(PlatformError) -> [[UInt8]]
    {
        var values = [UInt8](repeating: 0, count: 24 * 32)
        guard aa_tpm_read_sha256(tpm, &values, error, 256) == 0 else { throw Self.failure(error) }
        return (0..<24).map { Array(values[$0 * 32..<($0 + 1) * 32]) }
    }

    private func extend(index: UInt32, digest: [UInt8]) throws(PlatformError) {
        let fitted = InitDataDigest.fitted(digest, to: 32)
        try withTPM { tpm, error throws(PlatformError) in
            guard aa_tpm_extend_sha256(tpm, index, fitted, error, 256) == 0 else { throw Self.failure(error) }
        }
    }

    /// Opens the TPM for one operation: each call holds it only as long as it needs it.
    private func withTPM<T>(
        _ body: (OpaquePointer, UnsafeMutablePointer<CChar>) throws(PlatformError) -> T
    ) throws(PlatformError) -> T {
        let error = UnsafeMutablePointer<CChar>.allocate(capacity: 256)
        defer { error.deallocate() }
        error.initialize(repeating: 0, count: 256)
        var tpm: OpaquePointer?
        guard aa_tpm_open(tcti, &tpm, error, 256) == 0, let tpm else {
            throw PlatformError(.deviceFailure, "TPM at \(tcti): \(String(cString: error))")
        }
        defer { aa_tpm_close(tpm) }
        return try body(tpm, error)
    }

    private static func failure(_ error: UnsafeMutablePointer<CChar>) -> PlatformError {
        PlatformError(.deviceFailure, "TPM: \(String(cString: error))")
    }
}
