import AttestationFormats
import DataEncoding
import Foundation
import PlatformInterface
import TestSupport
import Testing

@testable import Platform

enum Reports {
    static let synthetic = PackagePaths.fixtures + "/reports"
    /// Real captures (docs/testing.md, "Hardware captures").
    static let real = PackagePaths.hardwareCaptures ?? ""
    static var realPresent: Bool { FileManager.default.fileExists(atPath: real + "/tdx-quote-v4.dat") }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// expected.json, written with the fixtures by Scripts/make-report-fixtures.py.
    static let expected: [String: [String: String]] = {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: synthetic + "/expected.json"))) ?? Data("{}".utf8)
        let parsed = (try? JSONSerialization.jsonObject(with: data)) as? [String: [String: Any]] ?? [:]
        return parsed.mapValues { $0.mapValues { "\($0)" } }
    }()
}

@Suite struct SyntheticReportTests {
    @Test(arguments: [
        "tdx-quote-v4.bin", "tdx-quote-v5.bin", "tdx-tdreport.bin", "snp-report-v2.bin", "snp-report-v3.bin",
        "cca-token.cbor",
    ])
    func findsTheFieldsItWasBuiltWith(_ name: String) throws {
        let expected = try #require(Reports.expected[name])
        let inspected = try EvidenceInspector.inspect(try Reports.bytes(Reports.synthetic + "/" + name))
        #expect(inspected.tee.rawValue == expected["tee"])
        let reportData = expected["report_data"] ?? expected["challenge"]
        #expect(Hex.encode(inspected.reportData) == reportData)
        let measurement = expected["mrtd"] ?? expected["measurement"] ?? expected["initial_measurement"]
        #expect(Hex.encode(inspected.launchMeasurement) == measurement)
        let field = expected["mrconfigid"] ?? expected["host_data"] ?? expected["personalization_value"]
        #expect(Hex.encode(inspected.initDataField) == field)
        #expect(inspected.initDataField.contains { $0 != 0 }, "the twins carry a non-zero init-data field")
    }

    @Test func ccaClaims() throws {
        let token = try CCAToken(parsing: try Reports.bytes(Reports.synthetic + "/cca-token.cbor"))
        #expect(token.hashAlgorithm == "sha-512")
        #expect(token.extensibleMeasurements.count == 4)
    }
}

@Suite(.enabled(if: Reports.realPresent, "no hardware captures (AA_HARDWARE_CAPTURES)"))
struct RealVectorTests {
    /// The values docs/testing.md lists, read there at the published layouts' offsets.
    @Test(
        arguments: [
            (
                "tdx-quote-v4.dat", "705ee9381b8633a9fbe532b5", "7c71fe2c86eff65a7cf8dbc22b327568",
                String(repeating: "00", count: 48)
            ),
            (
                "tdx-quote-v4-mrconfigid.dat", "21e8dead92d6c69d7cbba798", "26cae1c77185617fb6a03fc29bf1f924",
                "889abf4718f037e38d74464c11e7c91a6e9890b5546409e1e7df9de7a51ca93152bf847bd2440328e90adb18b150ed67"
            ),
            (
                "tdx-quote-v5.dat", "dfba221b48a22af8511542ee", "6d6ab13b046cff606ac0074be13981b0",
                String(repeating: "00", count: 48)
            ),
            ("tdx-tdreport.bin", "98bbc39e3e27b4cb27ed6d21", nil, String(repeating: "00", count: 48)),
            (
                "snp-report-v2.bin", "a1f3930413247bb38cfc171579ea3c12", "ec6c52d7533cc2c4f45be7849cf112ab",
                String(repeating: "00", count: 32)
            ),
            (
                "snp-report-v3.bin", "8922ebbdd00ec2c541f36a6e7a82a877", "819770b7e6ea6df8dd8fd4dd146b073c",
                String(repeating: "00", count: 32)
            ),
            ("cca-token.cbor", nil, "57e979ae2618de0c", String(repeating: "00", count: 64)),
        ] as [(String, String?, String?, String)])
    func parsesToTheListedValues(_ name: String, _ measurement: String?, _ reportData: String?, _ field: String) throws
    {
        let inspected = try EvidenceInspector.inspect(try Reports.bytes(Reports.real + "/" + name))
        if let measurement { #expect(Hex.encode(inspected.launchMeasurement).hasPrefix(measurement)) }
        if let reportData { #expect(Hex.encode(inspected.reportData).hasPrefix(reportData)) }
        #expect(Hex.encode(inspected.initDataField) == field)
    }

    @Test func tdreportAttributesAndXfam() throws {
        let report = try TDReport(parsing: try Reports.bytes(Reports.real + "/tdx-tdreport.bin"))
        #expect(Hex.encode(report.measurements.tdAttributes) == "0000001000000000")
        #expect(Hex.encode(report.measurements.xfam) == "e742060000000000")
    }

    @Test func ccaHashAlgorithm() throws {
        #expect(try CCAToken(parsing: try Reports.bytes(Reports.real + "/cca-token.cbor")).hashAlgorithm == "sha-512")
    }
}

@Suite struct MalformedReportTests {
    static let names = [
        "tdx-quote-v4.bin", "tdx-quote-v5.bin", "tdx-tdreport.bin", "snp-report-v2.bin", "cca-token.cbor",
    ]

    @Test(arguments: names)
    func everyTruncationIsAnErrorNeverACrash(_ name: String) throws {
        let bytes = try Reports.bytes(Reports.synthetic + "/" + name)
        // A quote's signature is not read, so cutting it off may still parse; anything
        // shorter than the fields must fail with a reason.
        for length in 0..<min(bytes.count, 700) {
            do {
                _ = try EvidenceInspector.inspect(Array(bytes.prefix(length)))
                #expect(name.hasPrefix("tdx-quote") && length >= 632, "\(name) cut to \(length) bytes parsed")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test(arguments: names)
    func flippedBytesNeverCrash(_ name: String) throws {
        let original = try Reports.bytes(Reports.synthetic + "/" + name)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<3 {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                // Whatever parses must still be the fields at their offsets, never a shifted read.
                let inspected = try EvidenceInspector.inspect(bytes)
                #expect(inspected.reportData.count == 64)
                #expect(inspected.initDataField.count == inspected.tee.initDataFieldSize)
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func wrongTypesAndVersionsSayWhat() throws {
        var quote = try Reports.bytes(Reports.synthetic + "/tdx-quote-v5.bin")
        quote[48] = 9
        #expect(throws: ReportParseError.self) { try TDXQuote(parsing: quote) }
        var snp = try Reports.bytes(Reports.synthetic + "/snp-report-v2.bin")
        snp[0] = 1
        do {
            _ = try SNPReport(parsing: snp)
            Issue.record("version 1 accepted")
        } catch { #expect(error.description.contains("version 1")) }
        #expect(throws: ReportParseError.self) { try EvidenceInspector.inspect(Array("hello".utf8)) }
        #expect(throws: ReportParseError.self) { try CCAToken(parsing: [0xD9, 0x01, 0x8F, 0xA0]) }
        // Nested too deep, and a length past the end.
        #expect(throws: ReportParseError.self) { try CBOR(decoding: [UInt8](repeating: 0x81, count: 100) + [0]) }
        #expect(throws: ReportParseError.self) { try CBOR(decoding: [0x5A, 0xFF, 0xFF, 0xFF, 0xFF]) }
    }
}
