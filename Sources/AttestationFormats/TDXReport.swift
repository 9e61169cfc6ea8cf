/// The measurements of a TD, as a TD report body (in a quote) or a TDINFO
/// (in a raw TDREPORT) carries them. Offsets are Intel's TDX DCAP layouts.
public struct TDXMeasurements: Sendable, Equatable {
    public let tdAttributes: [UInt8]
    public let xfam: [UInt8]
    public let mrtd: [UInt8]
    /// The host-set field initdata is bound to.
    public let mrConfigID: [UInt8]
    public let mrOwner: [UInt8]
    public let mrOwnerConfig: [UInt8]
    public let rtmrs: [[UInt8]]

    /// Reads the run ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3 starting at `offset`.
    init(_ r: ReportBytes, at offset: Int) throws(ReportParseError) {
        tdAttributes = try r.field("TDATTRIBUTES", at: offset, length: 8)
        xfam = try r.field("XFAM", at: offset + 8, length: 8)
        mrtd = try r.field("MRTD", at: offset + 16, length: 48)
        mrConfigID = try r.field("MRCONFIGID", at: offset + 64, length: 48)
        mrOwner = try r.field("MROWNER", at: offset + 112, length: 48)
        mrOwnerConfig = try r.field("MROWNERCONFIG", at: offset + 160, length: 48)
        var rtmrs: [[UInt8]] = []
        for index in 0..<4 {
            rtmrs.append(try r.field("RTMR\(index)", at: offset + 208 + 48 * index, length: 48))
        }
        self.rtmrs = rtmrs
    }
}

/// A TDX DCAP quote, version 4 or 5 (TD report 1.0 or 1.5 body).
public struct TDXQuote: Sendable, Equatable {
    public static let teeType: UInt32 = 0x81
    static let headerLength = 48

    public let version: UInt16
    public let teeTCBSVN: [UInt8]
    public let measurements: TDXMeasurements
    public let reportData: [UInt8]

    public init(parsing bytes: some Collection<UInt8>) throws(ReportParseError) {
        let r = ReportBytes(bytes, what: "TDX quote")
        version = try r.uint16("version", at: 0)
        let tee = try r.uint32("TEE type", at: 4)
        guard tee == Self.teeType else {
            throw ReportParseError("TDX quote: TEE type is 0x\(String(tee, radix: 16)), expected 0x81 (TDX)")
        }
        let body: Int
        switch version {
        case 4:
            body = Self.headerLength
        case 5:
            // Version 5 puts a body type (2: TD report 1.0, 3: TD report 1.5) and size before the body.
            let type = try r.uint16("body type", at: Self.headerLength)
            let size = try r.uint32("body size", at: Self.headerLength + 2)
            guard (type == 2 && size == 584) || (type == 3 && size == 648) else {
                throw ReportParseError(
                    "TDX quote v5: body type \(type) of \(size) bytes is not a TD report 1.0 (2, 584) or 1.5 (3, 648)")
            }
            body = Self.headerLength + 6
        default:
            throw ReportParseError("TDX quote: version \(version) is not 4 or 5")
        }
        teeTCBSVN = try r.field("TEE_TCB_SVN", at: body, length: 16)
        measurements = try TDXMeasurements(r, at: body + 120)
        reportData = try r.field("REPORTDATA", at: body + 520, length: 64)
    }
}

/// The 1024-byte TDREPORT that the TDX_CMD_GET_REPORT0 ioctl returns:
/// REPORTMACSTRUCT (256), TEE_TCB_INFO (239 + 17 reserved), TDINFO (512).
public struct TDReport: Sendable, Equatable {
    public static let size = 1024

    public let reportData: [UInt8]
    public let measurements: TDXMeasurements

    public init(parsing bytes: some Collection<UInt8>) throws(ReportParseError) {
        guard bytes.count == Self.size else {
            throw ReportParseError("TDREPORT must be \(Self.size) bytes, got \(bytes.count)")
        }
        let r = ReportBytes(bytes, what: "TDREPORT")
        let type = try r.field("report type", at: 0, length: 1)[0]
        guard type == 0x81 else {
            throw ReportParseError("TDREPORT: report type 0x\(String(type, radix: 16)) is not TDX (0x81)")
        }
        reportData = try r.field("REPORTDATA", at: 128, length: 64)
        measurements = try TDXMeasurements(r, at: 512)
    }
}
