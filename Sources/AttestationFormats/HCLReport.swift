/// The report Azure's paravisor (HCL) leaves in the vTPM: a 32-byte header,
/// the hardware report (room for 1184 bytes), then IGVM request data whose
/// `report_type` says which hardware made it (2: SNP, 4: TDX).
public enum HCLReport {
    static let signature: UInt32 = 0x414C_4348  // "HCLA", little-endian
    static let reportTypeOffset = 32 + 1184 + 8

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
}
