import DataEncoding

/// The report Azure's paravisor (HCL) leaves in the vTPM: a 32-byte header,
/// the hardware report (room for 1184 bytes), IGVM request data (five
/// little-endian u32: size, version, report type, hash type, variable data
/// size) and the variable data, a JSON document with the attestation key
/// (`keys`, kid `HCLAkPub`) and the caller's report data (`user-data`, hex).
/// The hardware report's report data starts with the SHA-256 of the
/// variable data: that is what ties the vTPM to the TEE.
public struct HCLReport: Sendable, Equatable {
    static let signature: UInt32 = 0x414C_4348  // "HCLA", little-endian
    static let hardwareReportOffset = 32
    static let hardwareReportRoom = 1184
    static let requestDataOffset = hardwareReportOffset + hardwareReportRoom
    static let reportTypeOffset = requestDataOffset + 8
    static let variableDataOffset = requestDataOffset + 20
    /// IGVM's report_data_hash_type for SHA-256, the one trustee checks.
    public static let sha256HashType: UInt32 = 1

    /// `az-snp-vtpm` (report type 2) or `az-tdx-vtpm` (4).
    public let tee: TEEType
    /// The SNP report (1184 bytes) or the TDREPORT (1024 bytes).
    public let hardwareReport: [UInt8]
    public let reportDataHashType: UInt32
    public let variableData: [UInt8]

    public init(parsing bytes: [UInt8]) throws(ReportParseError) {
        guard let tee = try Self.teeType(bytes) else {
            throw ReportParseError("the HCL report does not start with the signature HCLA")
        }
        let r = ReportBytes(bytes, what: "HCL report")
        self.tee = tee
        let hardwareSize = tee == .azTdxVtpm ? TDReport.size : Self.hardwareReportRoom
        hardwareReport = try r.field("hw_report", at: Self.hardwareReportOffset, length: hardwareSize)
        reportDataHashType = try r.uint32("report_data_hash_type", at: Self.requestDataOffset + 12)
        let variableSize = try r.uint32("variable_data_size", at: Self.requestDataOffset + 16)
        variableData = try r.field("variable data", at: Self.variableDataOffset, length: Int(variableSize))
    }

    /// nil when the bytes do not start with the HCL signature.
    public static func teeType(_ bytes: [UInt8]) throws(ReportParseError) -> TEEType? {
        let r = ReportBytes(bytes, what: "HCL report")
        guard try r.uint32("signature", at: 0) == signature else { return nil }
        switch try r.uint32("report_type", at: reportTypeOffset) {
        case 2: return .azSnpVtpm
        case 4: return .azTdxVtpm
        case let other: throw ReportParseError("the HCL report's type \(other) is neither SNP (2) nor TDX (4)")
        }
    }

    /// The hardware report's own report data (SNP at 0x50, TDREPORT at 128).
    public func hardwareReportData() throws(ReportParseError) -> [UInt8] {
        try ReportBytes(hardwareReport, what: "the HCL report's hardware report")
            .field("report_data", at: tee == .azTdxVtpm ? 128 : 0x50, length: 64)
    }

    /// Whether the hardware report's report data begins with SHA-256 of the
    /// variable data, the tie trustee checks. A report read while the
    /// paravisor rewrites it (an NV read takes several TPM commands) can
    /// pair one refresh's hardware report with another's variable data.
    public func hardwareReportBindsVariableData() throws(ReportParseError) -> Bool {
        try hardwareReportData().prefix(32).elementsEqual(SHA2.sha256(variableData))
    }

    /// The `user-data` of the variable data, hex-decoded: the report data the
    /// paravisor took from NV index 0x01400002 when it made this report.
    public func userData() throws(ReportParseError) -> [UInt8] {
        let document: JSON
        do { document = try JSON(parsing: String(decoding: variableData, as: UTF8.self)) } catch {
            throw ReportParseError("the HCL report's variable data is not JSON: \(error)")
        }
        guard let text = document["user-data"]?.string else {
            throw ReportParseError("the HCL report's variable data has no user-data string")
        }
        guard let bytes = Hex.decode(text) else {
            throw ReportParseError("the HCL report's user-data is not hex: \(text.prefix(160))")
        }
        return bytes
    }
}
