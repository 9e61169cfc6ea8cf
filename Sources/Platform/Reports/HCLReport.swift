/// The report Azure's paravisor (HCL) leaves in the vTPM: a 32-byte header,
/// the hardware report (room for 1184 bytes), then IGVM request data whose
/// `report_type` says which hardware made it (2: SNP, 4: TDX).
public enum HCLReport {
    static let signature: UInt32 = 0x414C_4348 // "HCLA", little-endian
    static let reportTypeOffset = 32 + 1184 + 8

    public static func teeType(_ bytes: [UInt8]) throws(PlatformError) -> TEEType? {
        let r = ReportBytes(bytes, what: "HCL report")
        do {
            guard try r.uint32("signature", at: 0) == signature else { return nil }
            switch try r.uint32("report_type", at: reportTypeOffset) {
            case 2: return .azSnpVtpm
            case 4: return .azTdxVtpm
            case let other: throw PlatformError(.deviceFailure, "the HCL report's type \(other) is neither SNP (2) nor TDX (4)")
            }
        } catch let error as ReportParseError {
            throw PlatformError(.deviceFailure, "\(error)")
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.deviceFailure, "\(error)")
        }
    }
}
