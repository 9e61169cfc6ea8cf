/// An AMD SEV-SNP attestation report (versions 2 and up), at the offsets of
/// AMD's SEV-SNP ABI specification.
public struct SNPReport: Sendable, Equatable {
    public static let size = 1184

    public let version: UInt32
    public let guestSVN: UInt32
    public let policy: UInt64
    public let vmpl: UInt32
    public let signatureAlgorithm: UInt32
    public let reportData: [UInt8]
    public let measurement: [UInt8]
    /// HOST_DATA: the host-set field initdata is bound to.
    public let hostData: [UInt8]
    public let idKeyDigest: [UInt8]
    public let reportID: [UInt8]
    public let chipID: [UInt8]
    public let signature: [UInt8]

    public init(parsing bytes: some Collection<UInt8>) throws(ReportParseError) {
        guard bytes.count == Self.size else {
            throw ReportParseError("SNP report must be \(Self.size) bytes, got \(bytes.count)")
        }
        let r = ReportBytes(bytes, what: "SNP report")
        version = try r.uint32("VERSION", at: 0x00)
        guard (2...5).contains(version) else {
            throw ReportParseError("SNP report: version \(version) is not one this parser knows (2 to 5)")
        }
        guestSVN = try r.uint32("GUEST_SVN", at: 0x04)
        policy = try r.uint64("POLICY", at: 0x08)
        vmpl = try r.uint32("VMPL", at: 0x30)
        signatureAlgorithm = try r.uint32("SIGNATURE_ALGO", at: 0x34)
        reportData = try r.field("REPORT_DATA", at: 0x50, length: 64)
        measurement = try r.field("MEASUREMENT", at: 0x90, length: 48)
        hostData = try r.field("HOST_DATA", at: 0xC0, length: 32)
        idKeyDigest = try r.field("ID_KEY_DIGEST", at: 0xE0, length: 48)
        reportID = try r.field("REPORT_ID", at: 0x140, length: 32)
        chipID = try r.field("CHIP_ID", at: 0x1A0, length: 64)
        signature = try r.field("SIGNATURE", at: 0x2A0, length: 512)
    }
}
