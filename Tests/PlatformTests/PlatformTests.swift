import AttestationFormats
import Crypto
import DataEncoding
import Foundation
import PlatformInterface
import Testing

@testable import Platform

/// The TEE platforms against a fake kernel (configfs-tsm, sysfs).
@Suite struct PlatformTests {
    static let quoteTemplate = (try? Reports.bytes(Reports.synthetic + "/tdx-quote-v4.bin")) ?? []
    static let snpTemplate = (try? Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")) ?? []

    /// A TDX quote whose REPORTDATA is the inblob, as the kernel would return it.
    static func tdxKernel() -> FakeKernel {
        FakeKernel(provider: "tdx_guest") { inblob in
            var quote = quoteTemplate
            quote.replaceSubrange(568..<632, with: inblob)
            return quote
        }
    }

    @Test func tdxEvidenceIsAQuoteOverThePaddedReportData() async throws {
        let kernel = Self.tdxKernel()
        let tdx = TDXPlatform(files: kernel)
        #expect(TDXPlatform.detect(files: kernel, tsmProvider: ConfigfsTSM(files: kernel).presentProvider()))
        let evidence = try await tdx.evidence(reportData: [1, 2, 3])
        let json = try JSON(parsing: String(decoding: evidence, as: UTF8.self))
        #expect(json["cc_eventlog"] == .null)
        let quote = try #require(json["quote"]?.string.flatMap(Base64.decode))
        #expect(try TDXQuote(parsing: quote).reportData == [1, 2, 3] + [UInt8](repeating: 0, count: 61))
        #expect(kernel.entriesLeft == 0, "the configfs entry is removed")
    }

    @Test func aCCELTableThatDoesNotParseIsADeviceFailure() async throws {
        let kernel = Self.tdxKernel()
        kernel.set(TDXPlatform.ccEventLog, [9, 9])
        await #expect(throws: PlatformError.self) { try await TDXPlatform(files: kernel).evidence(reportData: []) }
    }

    @Test func tooMuchReportDataIsInvalidInput() async {
        do {
            _ = try await TDXPlatform(files: Self.tdxKernel()).evidence(reportData: [UInt8](repeating: 1, count: 65))
            Issue.record("65 bytes accepted")
        } catch {
            #expect(error.kind == .invalidInput)
        }
    }

    @Test func aRacingWriterOrTheWrongProviderIsRefused() async {
        let racing = Self.tdxKernel()
        racing.racingWrites = 1
        do {
            _ = try await TDXPlatform(files: racing).evidence(reportData: [])
            Issue.record("race unnoticed")
        } catch {
            #expect(error.description.contains("generation"))
        }
        #expect(racing.entriesLeft == 0)
        let snpKernel = FakeKernel(provider: "sev_guest") { _ in Self.snpTemplate }
        do {
            _ = try await TDXPlatform(files: snpKernel).evidence(reportData: [])
            Issue.record("wrong provider unnoticed")
        } catch {
            #expect(error.description.contains("sev_guest"))
        }
        #expect(!TDXPlatform.detect(files: snpKernel, tsmProvider: ConfigfsTSM(files: snpKernel).presentProvider()))
    }

    @Test(arguments: [false, true])
    func mrconfigidFromSysfsRawOrHex(_ hex: Bool) async throws {
        let kernel = Self.tdxKernel()
        let value = [UInt8](repeating: 0xAB, count: 48)
        kernel.set(TDXPlatform.measurements + "/mrconfigid", hex ? Array((Hex.encode(value) + "\n").utf8) : value)
        #expect(try await TDXPlatform(files: kernel).readInitDataField() == value)
        kernel.set(TDXPlatform.measurements + "/mrconfigid", [1, 2, 3])
        await #expect(throws: PlatformError.self) { try await TDXPlatform(files: kernel).readInitDataField() }
    }

    @Test(arguments: [(UInt64(1), 0), (7, 0), (2, 1), (6, 1), (8, 2), (15, 2), (16, 3), (17, 3), (0, 3)])
    func pcrsMapToRTMRsAsUEFISays(_ pcr: UInt64, _ rtmr: Int) async throws {
        let kernel = Self.tdxKernel()
        kernel.state.withLockedValue { _ = $0.directories.insert(TDXPlatform.measurements) }
        let digest = [UInt8](repeating: 7, count: 48)
        try await TDXPlatform(files: kernel).extendRuntimeMeasurement(index: pcr, digest: digest)
        let extended = Array(SHA384.hash(data: [UInt8](repeating: 0, count: 48) + digest))
        #expect(try kernel.read(TDXPlatform.measurements + "/rtmr\(rtmr):sha384") == extended)
        #expect(try await TDXPlatform(files: kernel).readRuntimeMeasurement(index: pcr) == extended)
        await #expect(throws: PlatformError.self) {
            try await TDXPlatform(files: kernel).extendRuntimeMeasurement(index: pcr, digest: [1])
        }
    }

    @Test func snpHostDataComesFromAReport() async throws {
        let kernel = FakeKernel(provider: "sev_guest") { _ in Self.snpTemplate }
        #expect(SNPPlatform.detect(files: kernel, tsmProvider: ConfigfsTSM(files: kernel).presentProvider()))
        let expected = try #require(Reports.expected["snp-report-v3.bin"]?["host_data"])
        #expect(Hex.encode(try await SNPPlatform(files: kernel).readInitDataField()) == expected)
        let garbled = FakeKernel(provider: "sev_guest") { _ in [1, 2, 3] }
        do {
            _ = try await SNPPlatform(files: garbled).readInitDataField()
            Issue.record("garbage parsed")
        } catch {
            #expect(error.description.contains("does not parse"))
        }
    }

    @Test func ccaPersonalizationValueAndEvidence() async throws {
        let token = try Reports.bytes(Reports.synthetic + "/cca-token.cbor")
        let kernel = FakeKernel(provider: "arm_cca_guest") { _ in token }
        #expect(CCAPlatform.detect(files: kernel, tsmProvider: ConfigfsTSM(files: kernel).presentProvider()))
        let cca = CCAPlatform(files: kernel)
        let expected = try #require(Reports.expected["cca-token.cbor"]?["personalization_value"])
        #expect(Hex.encode(try await cca.readInitDataField()) == expected)
        let json = try JSON(parsing: String(decoding: try await cca.evidence(reportData: [1]), as: UTF8.self))
        guard case .array(let numbers)? = json["token"] else {
            Issue.record("no token array")
            return
        }
        #expect(numbers.compactMap(\.number).map { UInt8($0) } == token)
    }

    @Test func noKernelInterfaceMeansSample() {
        let empty = PlatformRoot("/nonexistent-platform-root")
        #expect(!TDXPlatform.detect(files: empty, tsmProvider: ConfigfsTSM(files: empty).presentProvider()))
        #expect(!SNPPlatform.detect(files: empty, tsmProvider: ConfigfsTSM(files: empty).presentProvider()))
        #expect(!CCAPlatform.detect(files: empty, tsmProvider: ConfigfsTSM(files: empty).presentProvider()))
    }
}
