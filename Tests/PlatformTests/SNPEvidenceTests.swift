import DataEncoding
import Foundation
@testable import Platform
import Testing

/// SNP evidence in the sev crate's serde layout, as trustee's verifier reads it.
@Suite struct SNPEvidenceTests {
    static func numbers(_ json: JSON?) -> [UInt8]? {
        guard case .array(let items)? = json else { return nil }
        return items.compactMap(\.number).map { UInt8($0) }
    }

    @Test func syntheticV3() throws {
        let bytes = try Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")
        let json = try SNPEvidenceJSON.attestationReport(bytes)
        let expected = try #require(Reports.expected["snp-report-v3.bin"])
        #expect(json["version"]?.number == 3)
        #expect(Self.numbers(json["report_data"]).map(Hex.encode) == expected["report_data"])
        #expect(Self.numbers(json["host_data"]).map(Hex.encode) == expected["host_data"])
        #expect(Self.numbers(json["measurement"]).map(Hex.encode) == expected["measurement"])
        #expect(json["policy"]?.number == Double(0x30000))
        // Genoa lays the TCB out as [bootloader, tee, 0, 0, 0, 0, snp, microcode] and has no FMC.
        #expect(json["current_tcb"] == .object([("fmc", .null), ("bootloader", .number(3)), ("tee", .number(0)),
                                                ("snp", .number(8)), ("microcode", .number(115))]))
        #expect(json["current"] == .object([("major", .number(1)), ("minor", .number(55)), ("build", .number(21))]))
        #expect(json["cpuid_fam_id"]?.number == 0x19)
        #expect(json["launch_mit_vector"] == .null, "mitigation vectors come with version 5")
        #expect(Self.numbers(json["signature"]?["r"])?.count == 72)
        #expect(Self.numbers(json["signature"]?["s"])?.count == 72)
    }

    @Test func version2WithAMaskedChipIDIsRefused() throws {
        var bytes = try Reports.bytes(Reports.synthetic + "/snp-report-v2.bin")
        #expect(try SNPEvidenceJSON.attestationReport(bytes)["cpuid_fam_id"] == .null)
        bytes.replaceSubrange(0x1A0..<0x1E0, with: [UInt8](repeating: 0, count: 64))
        #expect(throws: ReportParseError.self) { try SNPEvidenceJSON.attestationReport(bytes) }
    }

    @Test(.enabled(if: Reports.realPresent), arguments: ["snp-report-v2.bin", "snp-report-v3.bin"])
    func realReportsConvert(_ name: String) throws {
        let bytes = try Reports.bytes(Reports.real + "/" + name)
        let json = try SNPEvidenceJSON.attestationReport(bytes)
        #expect(Self.numbers(json["report_data"]) == Array(bytes[0x50..<0x90]))
        #expect(Self.numbers(json["chip_id"]) == Array(bytes[0x1A0..<0x1E0]))
    }

    @Test func certificateTableByGUID() throws {
        // VCEK and ARK entries, then the all-zero terminator; data after the table.
        let vcek: [UInt8] = [0x8D, 0x75, 0xDA, 0x63, 0x64, 0xE6, 0x64, 0x45, 0xAD, 0xC5, 0xF4, 0xB9, 0x3B, 0xE8, 0xAC, 0xCD]
        let other = [UInt8](repeating: 0x11, count: 16)
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let table = vcek + le(72) + le(3) + other + le(75) + le(2) + [UInt8](repeating: 0, count: 24) + [1, 2, 3, 4, 5]
        let json = try SNPEvidenceJSON.certificateChain(table)
        #expect(json == .array([
            .object([("cert_type", .string("VCEK")), ("data", .array([1, 2, 3].map { .number($0) }))]),
            .object([("cert_type", .object([("OTHER", .string("11111111-1111-1111-1111-111111111111"))])),
                     ("data", .array([4, 5].map { .number($0) }))]),
        ]))
        #expect(throws: ReportParseError.self) { try SNPEvidenceJSON.certificateChain(Array(table.prefix(30))) }
        #expect(throws: ReportParseError.self) { try SNPEvidenceJSON.certificateChain(vcek + le(900) + le(3)) }
    }

    @Test func platformEvidence() async throws {
        let template = try Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")
        let kernel = FakeKernel(provider: "sev_guest") { inblob in
            var report = template
            report.replaceSubrange(0x50..<0x90, with: inblob)
            return report
        }
        let evidence = try await SNPPlatform(files: kernel).evidence(reportData: [7, 7])
        let json = try JSON(parsing: String(decoding: evidence, as: UTF8.self))
        #expect(Self.numbers(json["attestation_report"]?["report_data"]) == [7, 7] + [UInt8](repeating: 0, count: 62))
        #expect(json["cert_chain"] == .null, "no auxblob, no chain")
    }
}
