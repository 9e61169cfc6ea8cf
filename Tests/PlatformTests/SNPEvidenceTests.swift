import AttestationFormats
import DataEncoding
import Foundation
import PlatformInterface
import TestSupport
import Testing

@testable import Platform

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
        #expect(
            json["current_tcb"]
                == .object([
                    ("fmc", .null), ("bootloader", .unsigned(3)), ("tee", .unsigned(0)),
                    ("snp", .unsigned(8)), ("microcode", .unsigned(115)),
                ]))
        #expect(
            json["current"] == .object([("major", .unsigned(1)), ("minor", .unsigned(55)), ("build", .unsigned(21))]))
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
        // VCEK and another entry, then the all-zero terminator; data after the table.
        // The VCEK GUID in RFC 4122 byte order, as the sev crate reads it.
        let vcek: [UInt8] = [
            0x63, 0xDA, 0x75, 0x8D, 0xE6, 0x64, 0x45, 0x64, 0xAD, 0xC5, 0xF4, 0xB9, 0x3B, 0xE8, 0xAC, 0xCD,
        ]
        let other = [UInt8](repeating: 0x11, count: 16)
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let table = vcek + le(72) + le(3) + other + le(75) + le(2) + [UInt8](repeating: 0, count: 24) + [1, 2, 3, 4, 5]
        let json = try SNPEvidenceJSON.certificateChain(table)
        #expect(
            json
                == .array([
                    .object([("cert_type", .string("VCEK")), ("data", .array([1, 2, 3].map { .unsigned($0) }))]),
                    .object([
                        ("cert_type", .object([("OTHER", .string("11111111-1111-1111-1111-111111111111"))])),
                        ("data", .array([4, 5].map { .unsigned($0) })),
                    ]),
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

    /// A version 5 report whose 64-bit fields need all 64 bits, and a
    /// certificate table with VCEK, ASK, ARK and an unknown GUID: Python's
    /// struct and uuid modules, as the sev crate reads them, must find the same.
    @Test func evidenceAgreesWithAnIndependentDecoder() async throws {
        var template = try Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")
        func put64(_ value: UInt64, at offset: Int) {
            template.replaceSubrange(offset..<offset + 8, with: withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        template.replaceSubrange(0..<4, with: [5, 0, 0, 0])
        put64(0xFFFF_FFFF_FFFF_FFF3, at: 0x08)  // policy
        put64(0x8000_0000_0000_0001, at: 0x40)  // plat_info
        put64(9_007_199_254_740_993, at: 0x1F8)  // launch_mit_vector: 2^53 + 1
        put64(0x0123_4567_89AB_CDEF, at: 0x200)  // current_mit_vector
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let guids: [[UInt8]] = [
            [0x63, 0xDA, 0x75, 0x8D, 0xE6, 0x64, 0x45, 0x64, 0xAD, 0xC5, 0xF4, 0xB9, 0x3B, 0xE8, 0xAC, 0xCD],
            [0x4A, 0xB7, 0xB3, 0x79, 0xBB, 0xAC, 0x4F, 0xE4, 0xA0, 0x2F, 0x05, 0xAE, 0xF3, 0x27, 0xC7, 0x82],
            [0xC0, 0xB4, 0x06, 0xA4, 0xA8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3F, 0xB6, 0x01, 0x4C, 0xD0, 0xAE],
            [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10],
        ]
        let header = (guids.count + 1) * 24
        var table: [UInt8] = []
        for (index, guid) in guids.enumerated() { table += guid + le(UInt32(header + index * 3)) + le(3) }
        table += [UInt8](repeating: 0, count: 24) + (0..<guids.count * 3).map { UInt8($0) }

        let report = template
        let kernel = FakeKernel(provider: "sev_guest") { inblob in
            var bytes = report
            bytes.replaceSubrange(0x50..<0x90, with: inblob)
            return bytes
        }
        kernel.auxblob = table
        let reportData = (0..<64).map { UInt8($0) }
        let evidence = try await SNPPlatform(files: kernel).evidence(reportData: reportData)

        let folder = try TemporaryFolder("aa-oracle")
        var signed = report
        signed.replaceSubrange(0x50..<0x90, with: reportData)
        try Oracle.write(signed, folder.file("report.bin"))
        try Oracle.write(evidence, folder.file("evidence.json"))
        try Oracle.write(table, folder.file("auxblob.bin"))
        let result = try Oracle.run(
            "snp_evidence.py", [folder.file("report.bin"), folder.file("evidence.json"), folder.file("auxblob.bin")])
        #expect(result.status == 0, "\(result.output)")
        #expect(String(decoding: evidence, as: UTF8.self).contains("\"cert_type\":\"VCEK\""))
    }
}
