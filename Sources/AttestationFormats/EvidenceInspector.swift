import DataEncoding

/// What `aactl inspect` shows of a report or token.
public struct InspectedEvidence: Sendable, Equatable {
    public let tee: TEEType
    /// e.g. "TDX quote v4", "TDREPORT", "SNP report v3", "CCA token".
    public let format: String
    public let reportData: [UInt8]
    /// MRTD, MEASUREMENT or the realm initial measurement.
    public let launchMeasurement: [UInt8]
    /// MRCONFIGID, HOST_DATA or the realm personalization value.
    public let initDataField: [UInt8]

    public var json: JSON {
        .object([
            ("tee", .string(tee.rawValue)), ("format", .string(format)),
            ("report_data", .string(Hex.encode(reportData))),
            ("launch_measurement", .string(Hex.encode(launchMeasurement))),
            ("init_data_field", .string(Hex.encode(initDataField))),
        ])
    }
}

/// Recognises a report or token by its bytes.
public enum EvidenceInspector {
    public static func inspect(_ bytes: [UInt8]) throws(ReportParseError) -> InspectedEvidence {
        if bytes.starts(with: [0xD9, 0x01, 0x8F]) {
            let token = try CCAToken(parsing: bytes)
            return InspectedEvidence(
                tee: .cca, format: "CCA token", reportData: token.challenge,
                launchMeasurement: token.initialMeasurement, initDataField: token.personalizationValue)
        }
        if bytes.count == TDReport.size, bytes.first == 0x81 {
            let report = try TDReport(parsing: bytes)
            return InspectedEvidence(
                tee: .tdx, format: "TDREPORT", reportData: report.reportData,
                launchMeasurement: report.measurements.mrtd, initDataField: report.measurements.mrConfigID)
        }
        if bytes.count >= 8, [4, 5].contains(bytes[0]), bytes[1] == 0, bytes[4...7].elementsEqual([0x81, 0, 0, 0]) {
            let quote = try TDXQuote(parsing: bytes)
            return InspectedEvidence(
                tee: .tdx, format: "TDX quote v\(quote.version)", reportData: quote.reportData,
                launchMeasurement: quote.measurements.mrtd, initDataField: quote.measurements.mrConfigID)
        }
        if bytes.count == SNPReport.size {
            let report = try SNPReport(parsing: bytes)
            return InspectedEvidence(
                tee: .snp, format: "SNP report v\(report.version)", reportData: report.reportData,
                launchMeasurement: report.measurement, initDataField: report.hostData)
        }
        throw ReportParseError(
            "\(bytes.count) bytes that are not a TDX quote (v4, v5), a TDREPORT, an SNP report or a CCA token")
    }
}
